package footprint

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
)

// usage is what one node's own processes cost: memory at the end of an
// idle window, and CPU and disk writes over it. Which processes count is
// the caller's choice (counts); pods' own processes live in network
// namespaces of their own and are never among them.
type usage struct {
	procs, shims            int
	pss, rss, anon          int64              // kB
	containerdPss, shimPss  int64              // kB
	pssByRole               map[string]int64   // kB
	cpuPercent              float64            // of one core, over the window
	cpuByRole, writesByRole map[string]float64 // % of a core, B/s
	writesByFile            map[string]float64 // B/s of pages dirtied (dirtied), by file under the data dir
	writeBps                float64            // bytes written to storage per second
	window                  time.Duration
	// the datastore's files over the window, sampled every few seconds
	walMax, walEnd, dbEnd int64 // bytes
}

func (u usage) pssMB() float64 { return kbToMB(u.pss) }

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

// counts reports whether a process running exe is the node's own.
type counts func(exe string) bool

// inDirOrIs counts the programs in dir (containerd, the shims and whatever
// else runs from there) and the given binaries.
func inDirOrIs(dir string, bins ...string) counts {
	return func(exe string) bool {
		return filepath.Dir(exe) == dir || slices.Contains(bins, exe)
	}
}

type procStat struct {
	ticks, writes int64
}

// processes maps the pids of the node's counted processes to their role:
// containerd, shim, or the process's name.
func processes(n *harness.Node, count counts) map[string]string {
	out := map[string]string{}
	for _, pid := range n.PIDs() {
		exe, err := os.Readlink("/proc/" + pid + "/exe")
		if err != nil {
			continue
		}
		exe = strings.TrimSuffix(exe, " (deleted)")
		if !count(exe) {
			continue
		}
		var role string
		switch filepath.Base(exe) {
		case "containerd":
			role = "containerd"
		case "containerd-shim-runc-v2":
			role = "shim"
		default:
			// the name it was started as: vanilla's components share a binary
			comm, _ := os.ReadFile("/proc/" + pid + "/comm")
			role = strings.TrimSpace(string(comm))
		}
		out[pid] = role
	}
	return out
}

// cpuAndWrites reads CPU time (clock ticks, user + system) and
// write_bytes (bytes this process caused to be sent to storage) of each pid.
func cpuAndWrites(b *testing.B, pids map[string]string) map[string]procStat {
	out := map[string]procStat{}
	for pid := range pids {
		ticks, ok := harness.ProcCPUTicks(pid)
		if !ok {
			continue // gone
		}
		io := harness.ProcFields(b, "/proc/"+pid+"/io", "")
		out[pid] = procStat{ticks: ticks, writes: io["write_bytes"]}
	}
	return out
}

// measureIdle waits settle, then watches the node for window: its counted
// processes' CPU and writes over it, the datastore files (wal, db; empty
// paths are skipped), and their memory at its end.
func measureIdle(b *testing.B, n *harness.Node, count counts, settle, window time.Duration, wal, db string) usage {
	b.Helper()
	time.Sleep(settle)
	u := usage{window: window}
	before := cpuAndWrites(b, processes(n, count))
	trace := traceDirtied(b)
	t0 := time.Now()
	for time.Since(t0) < window {
		u.walMax = max(u.walMax, fileSize(wal))
		time.Sleep(min(5*time.Second, window-time.Since(t0)))
	}
	elapsed := time.Since(t0)
	procs := processes(n, count)
	after := cpuAndWrites(b, procs)
	if trace != nil {
		u.writesByFile = map[string]float64{}
		for file, bytes := range trace.stop(b, slices.Collect(maps.Keys(procs)), n.DataDir) {
			u.writesByFile[file] = float64(bytes) / elapsed.Seconds()
		}
	}
	u.walEnd, u.dbEnd = fileSize(wal), fileSize(db)
	u.walMax = max(u.walMax, u.walEnd)
	hz, secs := harness.ClockTicks(b), elapsed.Seconds()
	u.cpuByRole, u.writesByRole = map[string]float64{}, map[string]float64{}
	for pid, a := range after {
		// a process started within the window counts from zero
		cpu := float64(a.ticks-before[pid].ticks) / hz / secs * 100
		writes := float64(a.writes-before[pid].writes) / secs
		u.cpuByRole[procs[pid]] += cpu
		u.writesByRole[procs[pid]] += writes
		u.cpuPercent += cpu
		u.writeBps += writes
	}

	u.pssByRole = map[string]int64{}
	for pid, role := range procs {
		rollup := harness.ProcFields(b, "/proc/"+pid+"/smaps_rollup", "kB")
		u.pssByRole[role] += rollup["Pss"]
		status := harness.ProcFields(b, "/proc/"+pid+"/status", "kB")
		u.procs++
		u.pss += rollup["Pss"]
		u.rss += status["VmRSS"]
		u.anon += status["RssAnon"]
		switch role {
		case "containerd":
			u.containerdPss += rollup["Pss"]
		case "shim":
			u.shimPss += rollup["Pss"]
			u.shims++
		}
	}
	if u.procs == 0 {
		b.Fatalf("no process counted in %s", n.NetNS)
	}
	return u
}

// fileSize is a file's size, or the sum over a directory's files (etcd's
// WAL is one); 0 when there is none.
func fileSize(path string) int64 {
	if path == "" {
		return 0
	}
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
