package footprint

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/cpuprofile"
	"k8s.io/client-go/kubernetes"
)

// profileCPU takes a CPU profile of a node's edgeos process for d, through
// the apiserver's proxy to the node's kubelet, which serves the process's
// Go profiler at /debug/pprof (the kubelet's debugging handlers); nil when
// d is 0. It runs after the idle window: the profiler's own work (its
// signal every 10 ms, symbolising the samples) stays out of the idle
// figures. With BENCH_PROFILE_DIR set, the profile is also kept there as
// <node>.pprof, for go tool pprof.
func profileCPU(b *testing.B, cs kubernetes.Interface, node string, d time.Duration) *cpuprofile.Summary {
	b.Helper()
	if d == 0 {
		return nil
	}
	secs := max(1, int(d.Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second+time.Minute)
	defer cancel()
	data, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy/debug/pprof/profile").
		Param("seconds", strconv.Itoa(secs)).DoRaw(ctx)
	if err != nil {
		b.Fatalf("CPU profile of %s: %v", node, err)
	}
	if dir := os.Getenv("BENCH_PROFILE_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, node+".pprof"), data, 0o644); err != nil {
			b.Fatalf("keeping the CPU profile of %s: %v", node, err)
		}
	}
	s, err := cpuprofile.Summarize(data)
	if err != nil {
		b.Fatalf("CPU profile of %s: %v", node, err)
	}
	return &s
}
