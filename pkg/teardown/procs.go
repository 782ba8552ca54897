package teardown

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid int
	exe       string
	args      []string
	netns     string
}

// processes reads the process table; processes that end meanwhile are
// left out.
func processes() map[int]proc {
	out := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// the command name, in parentheses, may hold spaces and parentheses
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue // ended, waiting for its parent: nothing to stop
		}
		ppid, _ := strconv.Atoi(f[1])
		exe, _ := os.Readlink(filepath.Join(dir, "exe"))
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		netns, _ := os.Readlink(filepath.Join(dir, "ns", "net"))
		out[pid] = proc{
			pid: pid, ppid: ppid, netns: netns,
			exe:  strings.TrimSuffix(exe, " (deleted)"),
			args: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"),
		}
	}
	return out
}

// ours sorts this edgeos's processes: the edgeos server or agent (run from
// a file named edgeos, or from the caller's own file) in the caller's
// network namespace; the programs run from the data dir's bin
// directory (containerd, the shims); and everything below a shim (the
// containers).
func ours(table map[int]proc, dataDir string) (edgeos, runtime []int) {
	self := os.Getpid()
	myNet, myExe := table[self].netns, table[self].exe
	binDir := filepath.Join(dataDir, "agent", "bin") + "/"
	shims := map[int]bool{}
	for pid, p := range table {
		switch {
		case pid == self:
		case strings.HasPrefix(p.exe, binDir):
			runtime = append(runtime, pid)
			shims[pid] = true
		case (p.exe == myExe || filepath.Base(p.exe) == "edgeos") && p.netns == myNet && len(p.args) > 1 && (p.args[1] == "server" || p.args[1] == "agent"):
			edgeos = append(edgeos, pid)
		}
	}
	for pid := range table {
		if shims[pid] || pid == self {
			continue
		}
		// bounded walk up the tree: a parent loop cannot happen, a deep
		// tree is cut short
		for p, hops := table[pid].ppid, 0; p > 1 && hops < 64; p, hops = table[p].ppid, hops+1 {
			if shims[p] {
				runtime = append(runtime, pid)
				break
			}
		}
	}
	slices.Sort(edgeos)
	slices.Sort(runtime)
	return edgeos, runtime
}

// stopProcesses ends edgeos with SIGTERM (SIGKILL after cfg.Grace), then
// kills its runtime and containers, until none is left.
func stopProcesses(cfg Config) error {
	edgeos, _ := ours(processes(), cfg.DataDir)
	if len(edgeos) > 0 {
		signal(edgeos, syscall.SIGTERM)
		cfg.Say("stopping edgeos (pid %v)", edgeos)
		if left := waitGone(edgeos, cfg.Grace); len(left) > 0 {
			signal(left, syscall.SIGKILL)
			waitGone(left, 5*time.Second)
		}
	}
	// the runtime and containers: killed, since edgeos is gone and nothing
	// will stop them in order; again while new ones appear (a shim
	// reaping, a container's children)
	killed := 0
	for range 10 {
		edgeos, runtime := ours(processes(), cfg.DataDir)
		all := append(edgeos, runtime...)
		if len(all) == 0 {
			if killed > 0 {
				cfg.Say("killed %d processes of the runtime and its containers", killed)
			}
			return nil
		}
		signal(all, syscall.SIGKILL)
		killed += len(all)
		waitGone(all, 2*time.Second)
	}
	edgeos, runtime := ours(processes(), cfg.DataDir)
	return fmt.Errorf("processes still running after SIGKILL: %v", append(edgeos, runtime...))
}

func signal(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// waitGone waits up to d for the processes to end and returns those left.
func waitGone(pids []int, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alive reports whether a process runs: it exists and has not ended (a
// zombie waits only for its parent).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
