package footprint

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/scale"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// BenchmarkMetricsKwok is what resource metrics cost the server at scale:
// a control-plane-only server (--disable-agent) with BENCH_KWOK_NODES (100)
// nodes simulated by kwok (built from its module by tests/scale) running
// BENCH_KWOK_PODS (10) pods each, every node's resource metrics served by
// kwok at the path of the node's metrics.k8s.io/resource-metrics-path
// annotation, with a certificate of the cluster's kubelet CA. The server
// is measured with edgeos's metrics on, off, and off with metrics-server
// beside it, each over the idle window; kwok's own process is not counted.
func BenchmarkMetricsKwok(b *testing.B) {
	p := readParams(b)
	msBin := os.Getenv("BENCH_METRICS_SERVER")
	if msBin == "" {
		b.Fatal("BENCH_METRICS_SERVER: the metrics-server binary (bench/metrics.sh builds it)")
	}
	kwok := scale.InstallKwok(b)
	nodes, pods := envInt(b, "BENCH_KWOK_NODES", 100), envInt(b, "BENCH_KWOK_PODS", 10)
	for range b.N {
		c := harness.New(b)
		srv := c.AddNode("server")
		srv.Start(srv.ServerArgs("--disable-agent")...)
		cs := srv.WaitReady()
		waitServiceAccount(b, cs)
		kwok.Start(b, srv)
		scale.CreateNodes(b, cs, srv.IP, nodes)
		runKwokPods(b, cs, nodes*pods)
		waitNodeMetrics(b, srv, nodes)

		results := map[string][]usage{}
		edgeosOnly := inDirOrIs("", srv.Bin)
		// the first start has the creation of every node and pod behind
		// it: measured, and shown apart; then each phase after a restart
		first := metricsPhase{name: "edgeos metrics on, the first start (the nodes and pods just created)"}
		phases := append([]metricsPhase{first}, metricsPhases[1], metricsPhases[0])
		for i, ph := range phases {
			if i > 0 {
				srv.Stop()
				srv.Start(srv.ServerArgs(append([]string{"--disable-agent"}, ph.args...)...)...)
				srv.WaitReady()
				srv.WaitLog("edgeos server is ready")
				if len(ph.args) == 0 {
					waitNodeMetrics(b, srv, nodes)
				}
			}
			results[ph.name] = append(results[ph.name], measureIdle(b, srv, edgeosOnly, p.settle, p.idle, "", ""))
		}
		ms := metricsServerPhase(b, p, srv, msBin, results)
		srv.Stop()

		if path := os.Getenv("BENCH_TABLE"); path != "" {
			var t strings.Builder
			fmt.Fprintf(&t, "Control-plane-only server (--disable-agent) and %d nodes simulated by kwok v0.8.0 with %d pods each (%d pods); "+
				"the server's process measured over a %s idle window after %s, one server start per phase, in the order of the rows; kwok's process not counted.\n\n",
				nodes, pods, nodes*pods, p.idle, p.settle)
			t.WriteString(metricsRows(append(phases, ms), results))
			if err := os.WriteFile(path, []byte(t.String()), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// runKwokPods runs a Deployment of total pods on the simulated nodes,
// each using 10m of CPU and 20 MiB by kwok's usage annotations.
func runKwokPods(b *testing.B, cs kubernetes.Interface, total int) {
	b.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "kwok-pods"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "kwok-pods", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(total)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"kwok.x-k8s.io/usage-cpu": "10m", "kwok.x-k8s.io/usage-memory": "20Mi",
				}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{scale.NodeLabel: "kwok"},
					Containers:   []corev1.Container{{Name: "app", Image: "simulated"}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	scale.WaitFor(b, 10*time.Minute, 2*time.Second, func() (bool, string) {
		got, err := cs.AppsV1().Deployments("default").Get(ctx, "kwok-pods", metav1.GetOptions{})
		if err != nil {
			return false, fmt.Sprintf("simulated pods not all available: %v", err)
		}
		return got.Status.AvailableReplicas == int32(total), fmt.Sprintf("simulated pods not all available: %+v", got.Status)
	})
}

// waitNodeMetrics waits until metrics.k8s.io lists n nodes: edgeos's
// scraper reads every simulated node.
func waitNodeMetrics(b *testing.B, srv *harness.Node, n int) {
	b.Helper()
	scale.WaitFor(b, 3*time.Minute, 2*time.Second, func() (bool, string) {
		r := srv.Run("kubectl", "get", "nodes.metrics.k8s.io", "-o", "name")
		got := len(strings.Fields(r.Stdout))
		return r.ExitCode == 0 && got == n, fmt.Sprintf("metrics.k8s.io lists %d of %d nodes: %s", got, n, r.Stderr)
	})
}
