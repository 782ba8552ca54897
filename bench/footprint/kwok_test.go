package footprint

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// kwokPort is where kwok serves the simulated kubelets' endpoints, on the
// server's address (the server runs no kubelet of its own here).
const kwokPort = 10250

// BenchmarkMetricsKwok is what resource metrics cost the server at scale:
// a control-plane-only server (--disable-agent) with BENCH_KWOK_NODES (100)
// nodes simulated by kwok ($BENCH_KWOK, built by bench/metrics.sh) running
// BENCH_KWOK_PODS (10) pods each, every node's resource metrics served by
// kwok at the path of the node's metrics.k8s.io/resource-metrics-path
// annotation, with a certificate of the cluster's kubelet CA. The server
// is measured with edgeos's metrics on, off, and off with metrics-server
// beside it, each over the idle window; kwok's own process is not counted.
func BenchmarkMetricsKwok(b *testing.B) {
	p := readParams(b)
	kwokBin, msBin := os.Getenv("BENCH_KWOK"), os.Getenv("BENCH_METRICS_SERVER")
	if kwokBin == "" || msBin == "" {
		b.Fatal("BENCH_KWOK and BENCH_METRICS_SERVER: the kwok and metrics-server binaries (bench/metrics.sh builds them)")
	}
	nodes, pods := envInt(b, "BENCH_KWOK_NODES", 100), envInt(b, "BENCH_KWOK_PODS", 10)
	for range b.N {
		c := harness.New(b)
		srv := c.AddNode("server")
		srv.Start(srv.ServerArgs("--disable-agent")...)
		cs := srv.WaitReady()
		waitServiceAccount(b, cs)
		startKwok(b, srv, kwokBin)
		createKwokNodes(b, cs, srv.IP, nodes)
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

// startKwok runs kwok on the server's machine with the stages of kwok's
// own "fast" node and pod lifecycles and leases, and its resource metrics
// and usage (1m CPU and 1 MiB a pod unless a pod's annotations say
// otherwise), all read from kwok's module. Its serving certificate is
// signed by the cluster's kubelet CA, as a kubelet's is.
func startKwok(b *testing.B, srv *harness.Node, bin string) {
	b.Helper()
	src := kwokSource(b)
	var config []string
	for _, f := range []string{
		"kustomize/stage/node/fast/node-initialize.yaml",
		"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"kustomize/stage/pod/fast/pod-ready.yaml",
		"kustomize/stage/pod/fast/pod-complete.yaml",
		"kustomize/stage/pod/fast/pod-delete.yaml",
		"kustomize/metrics/resource/metrics-resource.yaml",
		"kustomize/metrics/usage/usage-from-annotation.yaml",
	} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			b.Fatal(err)
		}
		config = append(config, string(data))
	}
	dir := b.TempDir()
	configFile := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(configFile, []byte(strings.Join(config, "\n---\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	ca, err := pki.EnsureCA(filepath.Join(srv.DataDir, "server", "tls"), "kubelet-ca", "")
	if err != nil {
		b.Fatal(err)
	}
	cert, key := filepath.Join(dir, "kwok.crt"), filepath.Join(dir, "kwok.key")
	if _, err := ca.EnsureLeaf(cert, key, pki.Leaf{CommonName: "kwok", IPs: []net.IP{net.ParseIP(srv.IP)}, Server: true}, 24*time.Hour); err != nil {
		b.Fatal(err)
	}
	srv.Background(bin, "--kubeconfig", srv.Kubeconfig, "--config", configFile,
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--server-address", net.JoinHostPort(srv.IP, strconv.Itoa(kwokPort)),
		"--node-ip", srv.IP, "--node-port", strconv.Itoa(kwokPort),
		"--tls-cert-file", cert, "--tls-private-key-file", key,
		"--cidr", "10.0.0.0/16")
}

// kwokSource is kwok's module source, $BENCH_KWOK_SRC (bench/metrics.sh
// names it in the module cache).
func kwokSource(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("BENCH_KWOK_SRC")
	if _, err := os.Stat(filepath.Join(dir, "kustomize")); dir == "" || err != nil {
		b.Fatalf("BENCH_KWOK_SRC %q: kwok's module source (bench/metrics.sh names it)", dir)
	}
	return dir
}

// createKwokNodes makes n nodes for kwok to run: its annotation, the path
// of their resource metrics on kwok's server, and their addresses (kwok's
// server), as a kubelet registers its node. Both address types are set:
// kwok's node-initialize stage, run again on a node, empties the
// addresses of one that lacks either.
func createKwokNodes(b *testing.B, cs kubernetes.Interface, ip string, n int) {
	b.Helper()
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				"kwok.x-k8s.io/node":                   "fake",
				"metrics.k8s.io/resource-metrics-path": "/metrics/nodes/" + name + "/metrics/resource",
			},
			Labels: map[string]string{"type": "kwok", "kubernetes.io/hostname": name},
		}, Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: kwokPort}},
		}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, 5*time.Minute, time.Second, func() (bool, string) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
		ready := 0
		if err == nil {
			for _, nd := range list.Items {
				for _, c := range nd.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		return ready == n, fmt.Sprintf("%d of %d simulated nodes Ready (%v)", ready, n, err)
	})
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
					NodeSelector: map[string]string{"type": "kwok"},
					Containers:   []corev1.Container{{Name: "app", Image: "simulated"}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 10*time.Minute, 2*time.Second, func() (bool, string) {
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
	waitFor(b, 3*time.Minute, 2*time.Second, func() (bool, string) {
		r := srv.Run("kubectl", "get", "nodes.metrics.k8s.io", "-o", "name")
		got := len(strings.Fields(r.Stdout))
		return r.ExitCode == 0 && got == n, fmt.Sprintf("metrics.k8s.io lists %d of %d nodes: %s", got, n, r.Stderr)
	})
}
