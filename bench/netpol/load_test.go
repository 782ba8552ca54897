package netpol

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/netpol/netpolload"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// maxPods is each node's kubelet limit in the bench, above upstream's 110
// so that the load fits on two nodes; a node's /24 of pod addresses bounds
// it.
const maxPods = 200

// loadPods is $BENCH_NETPOL_PODS (300): the pods the 100 policies of the
// loaded rounds select, half on each node.
func loadPods(b *testing.B) int {
	s := os.Getenv("BENCH_NETPOL_PODS")
	if s == "" {
		return 300
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 10 || n > 2*(maxPods-10) {
		b.Fatalf("BENCH_NETPOL_PODS %q: 10 to %d", s, 2*(maxPods-10))
	}
	return n
}

// load creates netpolload's pods and policies, the pods by tens on the
// nodes in turn, and returns once every pod runs.
func load(b *testing.B, cs kubernetes.Interface, pods int, nodes ...*harness.Node) {
	b.Helper()
	ctx := context.Background()
	for ns := range netpolload.Namespaces {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: netpolload.Namespace(ns), Labels: netpolload.NamespaceLabels(ns)}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range pods {
		ns, name := netpolload.Pod(i)
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: netpolload.PodLabels(i)},
			Spec: corev1.PodSpec{
				NodeName: nodes[(i/10)%len(nodes)].Name,
				Containers: []corev1.Container{{
					Name: "netperf", Image: images.Name("netperf"), ImagePullPolicy: corev1.PullNever,
					Command: []string{"/netperf", "serve", ":5201"},
					Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 5201}},
				}},
			},
		}
		if _, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range netpolload.Policies {
		p := netpolload.Policy(i)
		if _, err := cs.NetworkingV1().NetworkPolicies(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		running := 0
		for _, p := range list.Items {
			if p.Labels["role"] != "" && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				running++
			}
		}
		if running == pods {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d load pods running after 10 minutes", running, pods)
		}
		time.Sleep(2 * time.Second)
	}
}

// cpuSeconds is the CPU time so far of the nodes' edgeos processes and of
// every kube-router process in their namespaces.
func cpuSeconds(b *testing.B, nodes ...*harness.Node) (edgeos, kubeRouter float64) {
	b.Helper()
	hz := harness.ClockTicks(b)
	for _, n := range nodes {
		if t, ok := harness.ProcCPUTicks(strconv.Itoa(n.PID())); ok {
			edgeos += float64(t) / hz
		}
		for _, pid := range n.PIDs() {
			comm, _ := os.ReadFile("/proc/" + pid + "/comm")
			if strings.TrimSpace(string(comm)) != "kube-router" {
				continue
			}
			if t, ok := harness.ProcCPUTicks(pid); ok {
				kubeRouter += float64(t) / hz
			}
		}
	}
	return edgeos, kubeRouter
}

// kubeRouterSyncs are the full syncs kube-router's controller logged on
// the node ("sync iptables took …", at -v=1), in order.
func kubeRouterSyncs(b *testing.B, n *harness.Node) []time.Duration {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(n.Dir, "kube-router.log"))
	if err != nil {
		b.Fatal(err)
	}
	var out []time.Duration
	for _, line := range strings.Split(string(data), "\n") {
		_, took, ok := strings.Cut(line, "sync iptables took ")
		if !ok {
			continue
		}
		if d, err := time.ParseDuration(strings.TrimSpace(took)); err == nil {
			out = append(out, d)
		}
	}
	return out
}
