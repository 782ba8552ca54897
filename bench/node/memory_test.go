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
// network namespace that runs the edgeos binary or one of the programs it
// writes to its bin dir (containerd, the shims), in kB. Pods' own processes
// live in their own network namespaces and are not counted.
type memory struct {
	procs, shims           int
	pss, rss, anon         int64
	containerdPss, shimPss int64
}

func (m memory) pssMB() float64 { return kbToMB(m.pss) }

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

func measure(b *testing.B, n *harness.Node) memory {
	b.Helper()
	binDir := filepath.Join(n.DataDir, "agent", "bin")
	var m memory
	for _, pid := range n.PIDs() {
		exe, err := os.Readlink("/proc/" + pid + "/exe")
		exe = strings.TrimSuffix(exe, " (deleted)")
		if err != nil || exe != n.Bin && filepath.Dir(exe) != binDir {
			continue
		}
		rollup := procFields(b, "/proc/"+pid+"/smaps_rollup")
		status := procFields(b, "/proc/"+pid+"/status")
		m.procs++
		m.pss += rollup["Pss"]
		m.rss += status["VmRSS"]
		m.anon += status["RssAnon"]
		switch filepath.Base(exe) {
		case "containerd":
			m.containerdPss += rollup["Pss"]
		case "containerd-shim-runc-v2":
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
