// Package network benchmarks the VXLAN overlay in the test harness: TCP
// throughput and round-trip time from a pod on the server to a pod on an
// agent, against the same program run node to node without the overlay.
// It is run by bench/network.sh, once (-benchtime 1x), and writes a markdown
// table to $BENCH_TABLE when that is set.
package network

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

const (
	megabytes  = 1000
	roundTrips = 5000
	rounds     = 3
)

func BenchmarkOverlay(b *testing.B) {
	for range b.N {
		c := harness.New(b)
		nodes, cs := c.StartCluster(1, map[string][]byte{"netperf.tar": images.Build(b, "netperf")})
		srv, ag := nodes[0], nodes[1]
		target := benchkit.NetperfPod(b, cs, "perf-target", ag.Name, "serve", ":5201")
		benchkit.NetperfPod(b, cs, "perf-source", srv.Name, "serve", ":5201")
		bin := images.Program(b, "netperf")
		ag.Background(bin, "serve", net.JoinHostPort(ag.IP, "5202"))

		overlay := func(args ...string) float64 {
			return number(b, srv.Run(append([]string{"kubectl", "exec", "perf-source", "--", "/netperf"}, args...)...))
		}
		underlay := func(args ...string) float64 {
			return number(b, srv.Shell(bin+" "+strings.Join(args, " ")))
		}
		podAddr := net.JoinHostPort(target, "5201")
		nodeAddr := net.JoinHostPort(ag.IP, "5202")
		mb := strconv.Itoa(megabytes)
		n := strconv.Itoa(roundTrips)
		var tpO, tpU, rttO, rttU []float64
		for range rounds {
			tpO = append(tpO, overlay("send", podAddr, mb))
			tpU = append(tpU, underlay("send", nodeAddr, mb))
			rttO = append(rttO, overlay("rtt", podAddr, n))
			rttU = append(rttU, underlay("rtt", nodeAddr, n))
		}
		o, u, ro, ru := median(tpO), median(tpU), median(rttO), median(rttU)
		b.ReportMetric(o, "overlay-MB/s")
		b.ReportMetric(u, "underlay-MB/s")
		b.ReportMetric(ro, "overlay-rtt-us")
		b.ReportMetric(ru, "underlay-rtt-us")
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			table := fmt.Sprintf("| path | TCP throughput (MB/s) | round trip, median (µs) |\n|---|---|---|\n"+
				"| pod → pod across nodes (VXLAN) | %.0f | %.1f |\n| node → node (no overlay) | %.0f | %.1f |\n"+
				"| overlay / underlay | %.2f | +%.1f µs |\n\nMedians of %d rounds; %d MB per transfer, %d one-byte round trips per round.\n",
				o, ro, u, ru, o/u, ro-ru, rounds, megabytes, roundTrips)
			if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		ag.Stop()
		srv.Stop()
	}
}

func number(b *testing.B, r harness.Result) float64 {
	b.Helper()
	v, err := strconv.ParseFloat(strings.TrimSpace(r.Stdout), 64)
	if err != nil {
		b.Fatalf("netperf: %q %q", r.Stdout, r.Stderr)
	}
	return v
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
