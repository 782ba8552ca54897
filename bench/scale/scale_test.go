// Package scale_test is the scale bench: one control-plane-only edgeos
// server on embedded SQLite with nodes simulated by kwok, held against
// Kubernetes' scalability SLOs (bench/scale.sh runs it).
package scale_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/cpuprofile"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/scale"
	"k8s.io/client-go/kubernetes"
)

// BenchmarkScale runs, for each count of BENCH_SCALE_NODES (100,300,1000),
// a fresh server (--disable-agent) and kwok: that many simulated nodes,
// then BENCH_SCALE_PODS (30) pods a node through Deployments, then the
// churn of scale.DefaultChurn for BENCH_SCALE_CHURN (10m). It reports the
// apiserver's request latency by verb and scope from its own histogram,
// pod start-up latency as a watch sees it, the server's CPU, memory and
// writes, the datastore's size, WAL and rows, and the errors its clients
// saw, beside the SLOs.
func BenchmarkScale(b *testing.B) {
	sizes := envInts(b, "BENCH_SCALE_NODES", "100,300,1000")
	perNode := envInts(b, "BENCH_SCALE_PODS", "30")[0]
	churn, err := time.ParseDuration(envOr("BENCH_SCALE_CHURN", "10m"))
	if err != nil {
		b.Fatalf("BENCH_SCALE_CHURN: %v", err)
	}
	kwok := scale.InstallKwok(b)
	var table strings.Builder
	for range b.N {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
				md := run(b, kwok, n, n*perNode, scale.DefaultChurn(churn)).markdown()
				b.Log("\n" + md)
				table.WriteString(md)
			})
		}
	}
	if path := os.Getenv("BENCH_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// result is one size's figures.
type result struct {
	nodes, pods    int
	churn          scale.Churn
	create         phase // nodes and workload created until every pod runs
	steady         phase // the churn and the settling after it
	slos           []scale.SLO
	startup        []time.Duration
	report         scale.ChurnReport
	ds             scale.Datastore
	dbSize, walMax int64
	pssKB, hwmKB   int64
	locked         int // "database is locked" in the server's log
	settledPods    int
	// the CPU profiles' owners, or why there is none
	createProfile, profile string
	errorLines             []string
	notReady               int // NodeNotReady events of simulated nodes
}

// klogErrors finds the server's error lines (klog's E prefix): where
// they come from and what they say.
var klogErrors = regexp.MustCompile(`(?m)^E\d{4} [0-9:.]+ +\d+ [^\]]+\] .*$`)

func run(b *testing.B, kwok scale.Kwok, nodes, pods int, churn scale.Churn) result {
	r := result{nodes: nodes, churn: churn}
	c := harness.New(b)
	srv := c.AddNode("server")
	// the apiserver's profiler serves the whole process's CPU profile; a
	// cluster CIDR with a /24 for each of 4096 nodes (the default /16
	// has room for 256)
	srv.Start(srv.ServerArgs("--disable-agent", "--kube-apiserver-arg", "profiling=true", "--cluster-cidr", "10.64.0.0/12")...)
	srv.WaitReady()
	srv.WaitLog("edgeos server is ready")
	// a client of its own with room for the load: the harness's has
	// client-go's default rate limit
	rc := srv.RESTConfig()
	rc.QPS, rc.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	db := filepath.Join(srv.DataDir, "server", "db", "state.db")
	wal := newWALSampler(db + "-wal")
	defer wal.stop()

	kwok.Start(b, srv)
	before, err := scale.ScrapeRequests(ctx, cs)
	if err != nil {
		b.Fatal(err)
	}
	w := scale.ForPods(pods)
	r.pods = w.Pods()
	startup := scale.WatchStartup(cs)
	defer startup.Stop()

	// a profile while the controllers, the scheduler and kwok make the
	// pods run: from 10 s after the Deployments were made; waited for
	// after the phase, so that a short creation is timed as it is
	var profiling sync.WaitGroup
	r.create = measure(b, srv, func() {
		scale.CreateNodes(b, cs, srv.IP, nodes)
		w.Create(b, cs)
		profiling.Go(func() {
			time.Sleep(10 * time.Second)
			r.createProfile = profileCPU(ctx, cs, 30*time.Second, fmt.Sprintf("creation-%d.pprof", nodes))
		})
		w.WaitSettled(b, cs, 90*time.Minute)
	})
	profiling.Wait()
	r.steady = measure(b, srv, func() {
		// a profile from the middle of the churn, taken beside it
		var wg sync.WaitGroup
		wg.Go(func() {
			time.Sleep(churn.Duration / 3)
			r.profile = profileCPU(ctx, cs, min(30*time.Second, churn.Duration/3), fmt.Sprintf("churn-%d.pprof", nodes))
		})
		r.report = churn.Run(ctx, cs, w)
		wg.Wait()
		r.settledPods = w.WaitSettled(b, cs, 30*time.Minute)
	})

	after, err := scale.ScrapeRequests(ctx, cs)
	if err != nil {
		b.Fatal(err)
	}
	delta := after.Since(before)
	r.slos = delta.SLOs()
	r.startup = startup.Latencies()
	r.ds = scale.ReadDatastore(b, db)
	r.dbSize, r.walMax = fileSize(db), wal.stop()
	pid := serverPID(b, srv)
	rollup := harness.ProcFields(b, "/proc/"+pid+"/smaps_rollup", "kB")
	status := harness.ProcFields(b, "/proc/"+pid+"/status", "kB")
	r.pssKB, r.hwmKB = rollup["Pss"], status["VmHWM"]
	log := srv.Log()
	r.locked = strings.Count(log, "database is locked")
	r.errorLines = klogErrors.FindAllString(log, -1)
	if r.notReady, err = scale.NotReadyEvents(ctx, cs); err != nil {
		b.Fatal(err)
	}
	srv.Stop()
	return r
}

// profileCPU takes a CPU profile of the server's process for d from the
// apiserver's /debug/pprof and sums it by owner. With BENCH_SCALE_PROFILES
// naming a directory, the profile is kept there as name, for `go tool
// pprof`.
func profileCPU(ctx context.Context, cs kubernetes.Interface, d time.Duration, name string) string {
	secs := max(1, int(d.Seconds()))
	data, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(secs)).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("no profile: %v", err)
	}
	if dir := os.Getenv("BENCH_SCALE_PROFILES"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Sprintf("no profile kept: %v", err)
		}
	}
	sum, err := cpuprofile.Summarize(data)
	if err != nil {
		return fmt.Sprintf("no profile: %v", err)
	}
	return sum.String(8)
}

// phase is the server process's CPU and writes over a stretch of the run.
type phase struct {
	took       time.Duration
	cpuPercent float64 // of one core
	writeBps   float64
}

func measure(b *testing.B, srv *harness.Node, f func()) phase {
	pid := serverPID(b, srv)
	ticks0, writes0 := cpuAndWrites(b, pid)
	t0 := time.Now()
	f()
	took := time.Since(t0)
	ticks1, writes1 := cpuAndWrites(b, pid)
	return phase{
		took:       took,
		cpuPercent: float64(ticks1-ticks0) / harness.ClockTicks(b) / took.Seconds() * 100,
		writeBps:   float64(writes1-writes0) / took.Seconds(),
	}
}

// serverPID is the edgeos process in the server's namespace (kwok runs
// beside it).
func serverPID(b *testing.B, srv *harness.Node) string {
	for _, pid := range srv.PIDs() {
		if exe, err := os.Readlink("/proc/" + pid + "/exe"); err == nil && strings.TrimSuffix(exe, " (deleted)") == srv.Bin {
			return pid
		}
	}
	b.Fatal("no edgeos process in the server's namespace")
	return ""
}

// cpuAndWrites is the server's CPU time in clock ticks and the bytes it
// sent to storage.
func cpuAndWrites(b *testing.B, pid string) (ticks, writes int64) {
	ticks, ok := harness.ProcCPUTicks(pid)
	if !ok {
		b.Fatalf("the server (pid %s) is gone", pid)
	}
	return ticks, harness.ProcFields(b, "/proc/"+pid+"/io", "")["write_bytes"]
}

// walSampler keeps the largest size the WAL reached, read every second.
type walSampler struct {
	mu   sync.Mutex
	max  int64
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func newWALSampler(path string) *walSampler {
	s := &walSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			s.mu.Lock()
			s.max = max(s.max, fileSize(path))
			s.mu.Unlock()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest size seen.
func (s *walSampler) stop() int64 {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInts(b *testing.B, name, def string) []int {
	var out []int
	for _, s := range strings.Split(envOr(name, def), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("%s %q: positive counts, comma-separated", name, os.Getenv(name))
		}
		out = append(out, n)
	}
	return out
}
