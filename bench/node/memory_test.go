package node

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
)

// memory sums what edgeos costs on one node: every process in the node's
// network namespace that runs the edgeos binary (edgeos itself, containerd)
// or the shim edgeos installs, in kB. Pods' own processes live in their own network
// namespaces and are not counted.
type memory struct {
	procs, shims           int
	pss, rss, anon         int64
	containerdPss, shimPss int64
}

func (m memory) pssMB() float64 { return kbToMB(m.pss) }

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

func measure(b *testing.B, n *harness.Node) memory {
	b.Helper()
	bin, err := os.Stat(n.Bin)
	if err != nil {
		b.Fatal(err)
	}
	shim, _ := os.Stat(filepath.Join(n.DataDir, "agent", "bin", "containerd-shim-runc-v2"))
	var m memory
	for _, pid := range n.PIDs() {
		exe, err := os.Stat("/proc/" + pid + "/exe")
		isShim := err == nil && shim != nil && os.SameFile(exe, shim)
		if err != nil || !os.SameFile(exe, bin) && !isShim {
			continue
		}
		rollup := procFields(b, "/proc/"+pid+"/smaps_rollup")
		status := procFields(b, "/proc/"+pid+"/status")
		m.procs++
		m.pss += rollup["Pss"]
		m.rss += status["VmRSS"]
		m.anon += status["RssAnon"]
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		argv := strings.Split(string(cmdline), "\x00")
		switch {
		case filepath.Base(argv[0]) == "containerd":
			m.containerdPss += rollup["Pss"]
		// a shim re-executes itself as the edgeos binary with -namespace
		case isShim || filepath.Base(argv[0]) == "containerd-shim-runc-v2" || len(argv) > 1 && argv[1] == "-namespace":
			m.shimPss += rollup["Pss"]
			m.shims++
		}
	}
	if m.procs == 0 {
		b.Fatalf("no edgeos process in %s", n.NetNS)
	}
	return m
}

// procFields reads "Name:   123 kB" lines.
func procFields(b *testing.B, path string) map[string]int64 {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if f := strings.Fields(v); len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			out[k] = n
		}
	}
	return out
}
