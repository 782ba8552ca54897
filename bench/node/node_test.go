// Package node benchmarks edgeos nodes in the test harness (network and
// mount namespaces of their own, no route off the machine): cold start to
// node Ready for a server and for an agent, pod create → Running latency,
// and the memory of edgeos, its containerd and the shims with idle pods.
// It is run by bench/node.sh, once (-benchtime 1x), and writes a markdown
// table to $BENCH_TABLE when that is set.
package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

const idlePods = 5

func BenchmarkNode(b *testing.B) {
	idle := 60 * time.Second
	if s := os.Getenv("BENCH_IDLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("BENCH_IDLE: %v", err)
		}
		idle = d
	}
	startPods := 30
	if s := os.Getenv("BENCH_PODS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_PODS %q", s)
		}
		startPods = n
	}
	for range b.N {
		r := runNode(b, idle, startPods)
		b.ReportMetric(r.serverReady.Seconds(), "server-ready-s")
		b.ReportMetric(r.agentReady.Seconds(), "agent-ready-s")
		b.ReportMetric(r.server.pssMB(), "server-PSS-MB")
		b.ReportMetric(r.agent.pssMB(), "agent-PSS-MB")
		b.ReportMetric(percentile(r.podStart, 50).Seconds(), "pod-start-p50-s")
		b.ReportMetric(percentile(r.podStart, 99).Seconds(), "pod-start-p99-s")
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			if err := os.WriteFile(path, []byte(r.table(idle)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type result struct {
	serverReady, agentReady time.Duration
	server, agent           memory
	podStart                []time.Duration
}

func runNode(b *testing.B, idle time.Duration, startPods int) result {
	var r result
	c := harness.New(b)
	srv, ag := c.AddNode("server"), c.AddNode("agent")
	echo := images.Build(b, "echo")
	for _, n := range []*harness.Node{srv, ag} {
		dir := filepath.Join(n.DataDir, "agent", "images")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "echo.tar"), echo, 0o600); err != nil {
			b.Fatal(err)
		}
	}

	start := time.Now()
	srv.Start(append([]string{"server", "--data-dir", srv.DataDir, "--write-kubeconfig", srv.Kubeconfig}, srv.NodeFlags()...)...)
	cs := srv.WaitReady()
	waitNodeReady(b, cs, srv.Name)
	r.serverReady = time.Since(start)

	r.podStart = podStartLatencies(b, cs, srv.Name, startPods)

	runIdlePods(b, cs, srv.Name)
	time.Sleep(idle)
	r.server = measure(b, srv)

	token, err := os.ReadFile(filepath.Join(srv.DataDir, "server", "token"))
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	ag.Start(append([]string{"agent", "--server", "https://" + srv.IP + ":6443", "--token", strings.TrimSpace(string(token)), "--data-dir", ag.DataDir}, ag.NodeFlags()...)...)
	waitNodeReady(b, cs, ag.Name)
	r.agentReady = time.Since(start)
	runIdlePods(b, cs, ag.Name)
	time.Sleep(idle)
	r.agent = measure(b, ag)

	ag.Stop()
	srv.Stop()
	return r
}

// waitNodeReady polls the Node every 100 ms until it is Ready.
func waitNodeReady(b *testing.B, cs kubernetes.Interface, name string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("node %s not Ready: %v", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func echoPod(node string) corev1.PodSpec {
	return corev1.PodSpec{
		NodeSelector: map[string]string{"kubernetes.io/hostname": node},
		Containers: []corev1.Container{{
			Name: "echo", Image: images.Name("echo"), ImagePullPolicy: corev1.PullNever,
		}},
	}
}

// podStartLatencies creates n pods one after another on the node, each
// timed from the create call to the watch event that shows it Running, and
// deletes them.
func podStartLatencies(b *testing.B, cs kubernetes.Interface, node string, n int) []time.Duration {
	b.Helper()
	ctx := context.Background()
	pods := cs.CoreV1().Pods("default")
	var out []time.Duration
	for i := range n {
		name := fmt.Sprintf("start-%d", i)
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			b.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "start"}}, Spec: echoPod(node)}
		t0 := time.Now()
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := untilRunning(w); err != nil {
			b.Fatalf("pod %s: %v", name, err)
		}
		out = append(out, time.Since(t0))
	}
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=start"}); err != nil {
		b.Fatal(err)
	}
	return out
}

func untilRunning(w watch.Interface) error {
	defer w.Stop()
	timeout := time.After(5 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("not Running after 5 minutes")
		}
	}
}

// runIdlePods runs a Deployment of idlePods echo pods on the node and waits
// until all are Running.
func runIdlePods(b *testing.B, cs kubernetes.Interface, node string) {
	b.Helper()
	ctx := context.Background()
	lbls := map[string]string{"bench": "idle-" + node}
	replicas := int32(idlePods)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "idle-" + node},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: echoPod(node)},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(lbls).String()})
		if err == nil {
			running := 0
			for _, p := range l.Items {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			if running == idlePods {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d idle pods on %s not Running", idlePods, node)
		}
		time.Sleep(time.Second)
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// nearest rank
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

func (r result) table(idle time.Duration) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| node | start → node Ready (s) | processes | PSS (MB) | RSS (MB) | anon (MB) | of which containerd PSS (MB) | shims | shims PSS (MB) |\n")
	fmt.Fprintf(&sb, "|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name  string
		ready time.Duration
		m     memory
	}{{"server + node, " + strconv.Itoa(idlePods) + " idle pods", r.serverReady, r.server}, {"agent, " + strconv.Itoa(idlePods) + " idle pods", r.agentReady, r.agent}} {
		fmt.Fprintf(&sb, "| %s | %.2f | %d | %.0f | %.0f | %.0f | %.0f | %d | %.0f |\n", row.name, row.ready.Seconds(), row.m.procs,
			row.m.pssMB(), kbToMB(row.m.rss), kbToMB(row.m.anon), kbToMB(row.m.containerdPss), row.m.shims, kbToMB(row.m.shimPss))
	}
	fmt.Fprintf(&sb, "\nMemory after %s idle. Pod create → Running, %d pods one after another on the server node: p50 %.2f s, p99 %.2f s, max %.2f s.\n",
		idle, len(r.podStart), percentile(r.podStart, 50).Seconds(), percentile(r.podStart, 99).Seconds(), slices.Max(r.podStart).Seconds())
	return sb.String()
}
