package footprint

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	"github.com/edgeos/edgeos/tests/scale"
)

// metricsPhase is one way of serving resource metrics, measured on the
// server's node over an idle window.
type metricsPhase struct {
	name string
	// server flags
	args []string
	// metrics-server runs beside the server
	metricsServer bool
}

var metricsPhases = []metricsPhase{
	{name: "edgeos metrics on (default)"},
	{name: "edgeos --disable metrics", args: []string{"--disable", "metrics"}},
}

// BenchmarkMetrics is what resource metrics cost: a server node and an
// agent with idle pods; the server is restarted for each phase (edgeos's
// metrics on, then off) BENCH_ROUNDS times, and measured over the idle
// window; last, metrics-server ($BENCH_METRICS_SERVER, built by
// bench/metrics.sh) runs beside the server with metrics off, each measured
// over the same window. Both read every kubelet every 15 s.
func BenchmarkMetrics(b *testing.B) {
	p := readParams(b)
	msBin := os.Getenv("BENCH_METRICS_SERVER")
	if msBin == "" {
		b.Fatal("BENCH_METRICS_SERVER: the metrics-server binary (bench/metrics.sh builds it)")
	}
	rounds := benchkit.Rounds(b, 2)
	for range b.N {
		c := harness.New(b)
		srv, ag := c.AddNode("server"), c.AddNode("agent")
		echo := images.Build(b, "echo")
		for _, n := range []*harness.Node{srv, ag} {
			n.AddImage("echo.tar", echo)
		}
		srv.Start(srv.ServerArgs()...)
		cs := srv.WaitReady()
		ag.Start(ag.AgentArgs(srv)...)
		waitNodeReady(b, cs, srv.Name)
		waitNodeReady(b, cs, ag.Name)
		waitServiceAccount(b, cs)
		runIdlePods(b, cs, srv.Name)
		runIdlePods(b, cs, ag.Name)

		results := map[string][]usage{}
		edgeosOnly := inDirOrIs("", srv.Bin)
		restart := func(args []string) {
			srv.Stop()
			srv.Start(srv.ServerArgs(args...)...)
			srv.WaitReady()
			srv.WaitLog("edgeos server is ready")
		}
		for r := range rounds {
			for _, ph := range metricsPhases {
				if r > 0 || ph.name != metricsPhases[0].name {
					restart(ph.args)
				}
				results[ph.name] = append(results[ph.name], measureIdle(b, srv, edgeosOnly, p.settle, p.idle, "", ""))
			}
		}
		// metrics-server beside the server, which has its own off
		ms := metricsServerPhase(b, p, srv, msBin, results)
		ag.Stop()
		srv.Stop()

		if path := os.Getenv("BENCH_TABLE"); path != "" {
			table := metricsTable(p, rounds, append(metricsPhases, ms), results)
			if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func metricsTable(p params, rounds int, phases []metricsPhase, results map[string][]usage) string {
	return fmt.Sprintf("Server node and agent, %d idle pods each; the server's process measured over a %s idle window after %s, "+
		"each edgeos phase %d times (a server restart each), figures in round order.\n\n", idlePods, p.idle, p.settle, rounds) +
		metricsRows(phases, results)
}

// metricsRows is the table of what each phase measured.
func metricsRows(phases []metricsPhase, results map[string][]usage) string {
	var t strings.Builder
	t.WriteString("| | edgeos PSS MB | edgeos CPU % of a core | metrics-server PSS MB | metrics-server CPU % |\n|---|---|---|---|---|\n")
	for _, ph := range phases {
		var pss, cpu, msPss, msCPU []string
		for _, u := range results[ph.name] {
			// what is not metrics-server is the edgeos process, whatever
			// its binary is called
			pss = append(pss, fmt.Sprintf("%.1f", kbToMB(u.pss-u.pssByRole["metrics-server"])))
			cpu = append(cpu, fmt.Sprintf("%.2f", u.cpuPercent-u.cpuByRole["metrics-server"]))
			if ph.metricsServer {
				msPss = append(msPss, fmt.Sprintf("%.1f", kbToMB(u.pssByRole["metrics-server"])))
				msCPU = append(msCPU, fmt.Sprintf("%.2f", u.cpuByRole["metrics-server"]))
			}
		}
		fmt.Fprintf(&t, "| %s | %s | %s | %s | %s |\n", ph.name, join(pss), join(cpu), join(msPss), join(msCPU))
	}
	return t.String()
}

func join(s []string) string {
	if len(s) == 0 {
		return "–"
	}
	return strings.Join(s, ", ")
}

// metricsServerPhase runs metrics-server (msBin) beside the server, which
// has its own metrics off, reading every node's kubelet every 15 s, and
// measures both over the idle window into results; a node it could not
// read fails the bench.
func metricsServerPhase(b *testing.B, p params, srv *harness.Node, msBin string, results map[string][]usage) metricsPhase {
	b.Helper()
	ms := metricsPhase{name: "edgeos --disable metrics, metrics-server v0.8.0 beside it", metricsServer: true}
	tls := filepath.Join(srv.DataDir, "server", "tls")
	srv.Background(msBin, "--kubeconfig", srv.Kubeconfig,
		"--authentication-kubeconfig", srv.Kubeconfig, "--authorization-kubeconfig", srv.Kubeconfig,
		"--secure-port", "4443", "--cert-dir", b.TempDir(),
		"--kubelet-certificate-authority", filepath.Join(tls, "kubelet-ca.crt"),
		"--kubelet-preferred-address-types", "InternalIP", "--kubelet-use-node-status-port",
		"--metric-resolution", "15s")
	waitMetricsServer(b, srv)
	results[ms.name] = append(results[ms.name], measureIdle(b, srv, inDirOrIs("", srv.Bin, msBin), p.settle, p.idle, "", ""))
	if log, _ := os.ReadFile(filepath.Join(srv.Dir, "metrics-server.log")); strings.Contains(string(log), "Failed to scrape") {
		b.Fatalf("metrics-server could not read every node:\n%s", log)
	}
	return ms
}

// waitMetricsServer waits until metrics-server is ready, which it is once
// it has stored a scrape of the nodes.
func waitMetricsServer(b *testing.B, srv *harness.Node) {
	b.Helper()
	// only whether it is ready: its certificate is self-signed
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scale.WaitFor(b, 3*time.Minute, time.Second, func() (bool, string) {
		resp, err := client.Get("https://" + srv.IP + ":4443/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true, ""
			}
		}
		log, _ := os.ReadFile(filepath.Join(srv.Dir, "metrics-server.log"))
		return false, fmt.Sprintf("metrics-server not ready (%v):\n%s", err, log)
	})
}
