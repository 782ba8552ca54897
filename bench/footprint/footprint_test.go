// Package footprint measures what a node costs, for edgeos and, in the same
// run, for vanilla Kubernetes (the same upstream version as separate
// processes on etcd, default flags): start → node Ready, pod create →
// Running, memory (PSS, RSS, anonymous) with 5 idle pods, CPU and bytes
// written to storage over an idle window, the datastore's files over it,
// and API latency for ConfigMap creates and lists. Every node runs in the
// test harness (network and mount namespaces of its own, no route off the
// machine). It is run by bench/footprint.sh, once (-benchtime 1x), and
// writes a markdown table to $BENCH_TABLE when that is set.
package footprint

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/cpuprofile"
	"github.com/edgeos/edgeos/tests/harness"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

const idlePods = 5

// params come from the environment (bench/footprint.sh documents them).
type params struct {
	idle       time.Duration // BENCH_IDLE: the idle window
	settle     time.Duration // BENCH_SETTLE: the wait before it, once the idle pods run
	startPods  int           // BENCH_PODS: pods started one after another
	configMaps int           // BENCH_CONFIGMAPS: ConfigMaps created, then listed
	profile    time.Duration // BENCH_PROFILE: edgeos's CPU profile after the idle window; 0 skips it
	lists      int
	vanilla    string // BENCH_VANILLA: dir of the vanilla programs; empty skips vanilla
	// BENCH_EDGEOS_ARGS: extra flags for the edgeos server, space-separated
	// (to measure one: --kube-apiserver-arg=watch-cache=false)
	edgeosArgs []string
	agentArgs  []string // BENCH_AGENT_ARGS: the same for the agent
	noAgent    bool     // BENCH_AGENT=skip: the server alone
}

func readParams(b *testing.B) params {
	p := params{idle: 5 * time.Minute, settle: 30 * time.Second, profile: time.Minute, startPods: 30, configMaps: 1000, lists: 100, vanilla: os.Getenv("BENCH_VANILLA"),
		edgeosArgs: strings.Fields(os.Getenv("BENCH_EDGEOS_ARGS")), agentArgs: strings.Fields(os.Getenv("BENCH_AGENT_ARGS")), noAgent: os.Getenv("BENCH_AGENT") == "skip"}
	for env, v := range map[string]*time.Duration{"BENCH_IDLE": &p.idle, "BENCH_SETTLE": &p.settle, "BENCH_PROFILE": &p.profile} {
		if s := os.Getenv(env); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				b.Fatalf("%s %q", env, s)
			}
			*v = d
		}
	}
	p.startPods, p.configMaps = envInt(b, "BENCH_PODS", p.startPods), envInt(b, "BENCH_CONFIGMAPS", p.configMaps)
	return p
}

// envInt is a positive count from the environment, def when unset.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s %q", name, s)
	}
	return n
}

// run is one node's figures; agent-only nodes have no pod start or API
// figures.
type run struct {
	name           string
	ready          time.Duration
	podStart       []time.Duration
	idle           usage
	profile        *cpuprofile.Summary // edgeos's process; nil for vanilla or BENCH_PROFILE=0
	creates, lists []time.Duration
}

func BenchmarkFootprint(b *testing.B) {
	p := readParams(b)
	for range b.N {
		server, agent := runEdgeos(b, p)
		runs := []run{server}
		if !p.noAgent {
			runs = append(runs, agent)
		}
		if p.vanilla != "" {
			runs = append(runs, runVanilla(b, p))
		}
		for _, r := range runs {
			key := strings.Fields(r.name)[0] + "-" + strings.Fields(r.name)[1]
			b.ReportMetric(r.idle.pssMB(), key+"-PSS-MB")
		}
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			if err := os.WriteFile(path, []byte(table(p, runs)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func table(p params, runs []run) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| node | start → Ready (s) | pod start p50 / p99 (s) | PSS (MB) | RSS (MB) | anon (MB) | containerd PSS (MB) | shims, PSS (MB) | idle CPU (%% of a core) | idle writes (B/s) | WAL max / end (kB) | db (kB) | ConfigMap create p50 / p99 (ms) | list p50 / p99 (ms) |\n")
	fmt.Fprintf(&sb, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		u := r.idle
		fmt.Fprintf(&sb, "| %s | %.2f | %s | %.0f | %.0f | %.0f | %.0f | %d, %.0f | %.2f | %.0f | %s | %s | %s | %s |\n",
			r.name, r.ready.Seconds(), pair(r.podStart, time.Second), u.pssMB(), kbToMB(u.rss), kbToMB(u.anon),
			kbToMB(u.containerdPss), u.shims, kbToMB(u.shimPss), u.cpuPercent, u.writeBps,
			kB(u.walMax)+" / "+kB(u.walEnd), kB(u.dbEnd), pair(r.creates, time.Millisecond), pair(r.lists, time.Millisecond))
	}
	if e, v := runs[0], runs[len(runs)-1]; p.vanilla != "" {
		fmt.Fprintf(&sb, "| **edgeos / vanilla** (single node) | %.2f | %.2f | **%.2f** | %.2f | %.2f | | | %.2f | %.2f | | | %.2f | %.2f |\n",
			e.ready.Seconds()/v.ready.Seconds(), ratio(percentile(e.podStart, 50), percentile(v.podStart, 50)),
			e.idle.pssMB()/v.idle.pssMB(), float64(e.idle.rss)/float64(v.idle.rss), float64(e.idle.anon)/float64(v.idle.anon),
			e.idle.cpuPercent/v.idle.cpuPercent, e.idle.writeBps/v.idle.writeBps,
			ratio(percentile(e.creates, 99), percentile(v.creates, 99)), ratio(percentile(e.lists, 99), percentile(v.lists, 99)))
	}
	for _, by := range []struct {
		title, unit string
		get         func(usage) map[string]float64
	}{
		{"Idle CPU by process (% of a core)", "%.2f", func(u usage) map[string]float64 { return u.cpuByRole }},
		{"Idle writes by process (B/s)", "%.0f", func(u usage) map[string]float64 { return u.writesByRole }},
		{"Idle writes by file under the data dir (B/s of 4 KiB pages dirtied by the node's processes, from the kernel's writeback_dirty_folio tracepoint; elsewhere: file-system metadata and other files)", "%.0f", func(u usage) map[string]float64 { return u.writesByFile }},
	} {
		fmt.Fprintf(&sb, "\n%s:", by.title)
		for _, r := range runs {
			m := by.get(r.idle)
			roles := make([]string, 0, len(m))
			for role := range m {
				roles = append(roles, role)
			}
			slices.Sort(roles)
			fmt.Fprintf(&sb, " %s:", r.name)
			for _, role := range roles {
				fmt.Fprintf(&sb, " %s "+by.unit, role, m[role])
			}
			sb.WriteString(";")
		}
		sb.WriteString("\n")
	}
	if len(runs) > 0 && runs[0].profile != nil {
		fmt.Fprintf(&sb, "\nCPU profile of the edgeos process after the idle window, still idle (its Go profiler through the node's kubelet; each sample counted for the first package outside Go's standard library from the goroutine's start, bench/cpuprofile):")
		for _, r := range runs {
			if r.profile != nil {
				fmt.Fprintf(&sb, " %s: %s;", r.name, r.profile.String(12))
			}
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "\nEach node with %d idle pods (echo test image), left alone %s once they run. Memory at the end of a %s idle window after that; CPU and writes over it "+
		"(user + system time and /proc/PID/io write_bytes of the node's own processes: edgeos or the vanilla components, containerd, shims; not the pods). "+
		"WAL: the datastore's write-ahead log, sampled every 5 s (SQLite `state.db-wal`; etcd's `member/wal` directory). "+
		"Pod start (after the idle window): %d pods created one after another, create → Running seen by a watch. API: %d ConfigMaps created one after another, then %d lists of all of them.\n",
		idlePods, p.settle, p.idle, p.startPods, p.configMaps, p.lists)
	return sb.String()
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// pair is "p50 / p99" in unit, or empty.
func pair(ds []time.Duration, unit time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	f := "%.0f / %.0f"
	if unit == time.Second {
		f = "%.2f / %.2f"
	} else if percentile(ds, 99) < 10*unit {
		f = "%.1f / %.1f"
	}
	return fmt.Sprintf(f, float64(percentile(ds, 50))/float64(unit), float64(percentile(ds, 99))/float64(unit))
}

func kB(n int64) string {
	if n == 0 {
		return "–"
	}
	return strconv.FormatInt(n/1024, 10)
}
