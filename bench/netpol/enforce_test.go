// Package netpol benchmarks NetworkPolicy enforcement end to end in the
// test harness: the time from a policy's creation through the API to the
// moment a pod's new connections are dropped, and from its deletion to the
// moment they pass again, on an empty cluster and with 100 policies over
// 300 pods in place, with edgeos's enforcement and with kube-router's
// NetworkPolicy controller (the one k3s embeds). A watcher pod on the server opens a connection to
// a pod on the agent every millisecond or so and logs each change of
// outcome with the attempt's time (same host, same clock). It is run by
// bench/netpol.sh, once (-benchtime 1x), and writes a markdown table to
// $BENCH_TABLE when that is set.
package netpol

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

// bound is how long one change may take before the run fails: it catches a
// change never enforced, not a slow one.
const bound = 30 * time.Second

func BenchmarkEnforcement(b *testing.B) {
	for range b.N {
		rounds := benchkit.Rounds(b, 20)
		pods := loadPods(b)
		image := images.Build(b, "netperf")
		// each in a sub-benchmark of its own, so that its cluster is gone
		// before the next starts
		var results []result
		b.Run("edgeos", func(b *testing.B) {
			results = append(results, measure(b, "edgeos (built in)", image, "", rounds, pods))
		})
		if os.Getenv("BENCH_KUBE_ROUTER") != "skip" {
			b.Run("kube-router", func(b *testing.B) {
				results = append(results, measure(b, "kube-router "+kubeRouterVersion+"'s controller (edgeos's off)", image, kubeRouter(b), rounds, pods))
			})
		}
		if len(results) == 0 || b.Failed() {
			b.Fatal("no figures")
		}
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			if err := os.WriteFile(path, []byte(table(results, rounds, pods)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// result is one enforcer's figures: rounds on an empty cluster, then
// rounds with the load in place and the CPU time they took.
type result struct {
	name                     string
	deny, allow              []time.Duration
	loadedDeny, loadedAllow  []time.Duration
	edgeosCPU, kubeRouterCPU float64
	kubeRouterSyncs          []time.Duration
}

func table(results []result, rounds, pods int) string {
	var t strings.Builder
	ms := func(d []time.Duration) string {
		return fmt.Sprintf("%d / %d", benchkit.Median(d).Milliseconds(), slices.Max(d).Milliseconds())
	}
	t.WriteString("| enforced by | cluster | policy created → new connections dropped: median / max (ms) | policy deleted → new connections pass: median / max (ms) | CPU over the loaded rounds (s): edgeos processes + kube-router |\n|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&t, "| %s | empty | %s | %s | |\n", r.name, ms(r.deny), ms(r.allow))
		fmt.Fprintf(&t, "| %s | 100 policies over %d pods | %s | %s | %.2f + %.2f |\n", r.name, pods, ms(r.loadedDeny), ms(r.loadedAllow), r.edgeosCPU, r.kubeRouterCPU)
	}
	fmt.Fprintf(&t, "\n%d rounds per row: a deny-ingress policy for a pod on the agent, created and deleted through the API; each time from just before the API call to the first connection attempt with the new outcome, by a watcher pod on the server (it attempts about every 1 ms and stamps an attempt at its start; a dropped SYN is told by a 100 ms timeout, so an attempt in flight when a rule goes can add up to 100 ms to a deletion's figure). The load: %d pods in 10 namespaces, half on each node, and 100 policies of four kinds (as pkg/netpol's BenchmarkSync) in those namespaces; CPU is user + system time over the loaded rounds of both nodes' edgeos processes (all they do, the API server's work included) and of kube-router's.", rounds, pods)
	for _, r := range results {
		fmt.Fprintf(&t, " %s, times (ms): empty created %s, deleted %s; loaded created %s, deleted %s.", r.name, millis(r.deny), millis(r.allow), millis(r.loadedDeny), millis(r.loadedAllow))
		if len(r.kubeRouterSyncs) > 0 {
			fmt.Fprintf(&t, " kube-router's full syncs over the loaded rounds (its log's \"sync iptables took\", both nodes): %d, median %d ms, max %d ms.",
				len(r.kubeRouterSyncs), benchkit.Median(r.kubeRouterSyncs).Milliseconds(), slices.Max(r.kubeRouterSyncs).Milliseconds())
		}
	}
	t.WriteString("\n")
	return t.String()
}

func millis(d []time.Duration) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = strconv.FormatInt(x.Milliseconds(), 10)
	}
	return strings.Join(parts, ", ")
}

// measure runs a server and an agent, with edgeos's enforcement or, when
// kubeRouter is a binary, with edgeos's turned off and kube-router's
// controller on both nodes; it times rounds of a policy created and
// deleted, on the empty cluster and then with the load in place.
func measure(b *testing.B, name string, image []byte, kubeRouter string, rounds, pods int) result {
	c := harness.New(b)
	srv, ag := c.AddNode("server"), c.AddNode("agent1")
	srv.AddImage("netperf.tar", image)
	ag.AddImage("netperf.tar", image)
	flags := []string{"--kubelet-arg", "max-pods=" + strconv.Itoa(maxPods)}
	agentFlags := flags
	if kubeRouter != "" {
		flags = append(flags, "--disable", "network-policy")
	}
	srv.Start(srv.ServerArgs(flags...)...)
	cs := srv.WaitReady()
	ag.Start(ag.AgentArgs(srv, agentFlags...)...)
	srv.WaitNodeReady(cs)
	ag.WaitNodeReady(cs)
	if kubeRouter != "" {
		startKubeRouter(b, kubeRouter, srv.BridgeKubeconfig(), srv, ag)
	}

	target := benchkit.NetperfPod(b, cs, "target", ag.Name, "serve", ":5201")
	benchkit.NetperfPod(b, cs, "watcher", srv.Name, "watch", target+":5201")
	w := &watcher{b: b, cs: cs}
	w.await("open", time.Time{})
	r := result{name: name}
	r.deny, r.allow = changes(b, cs, w, rounds)

	load(b, cs, pods, srv, ag)
	time.Sleep(10 * time.Second) // the load's own changes applied
	nodes := []*harness.Node{srv, ag}
	syncsBefore := map[*harness.Node]int{}
	if kubeRouter != "" {
		for _, n := range nodes {
			syncsBefore[n] = len(kubeRouterSyncs(b, n))
		}
	}
	e0, k0 := cpuSeconds(b, nodes...)
	r.loadedDeny, r.loadedAllow = changes(b, cs, w, rounds)
	e1, k1 := cpuSeconds(b, nodes...)
	r.edgeosCPU, r.kubeRouterCPU = e1-e0, k1-k0
	if kubeRouter != "" {
		for _, n := range nodes {
			r.kubeRouterSyncs = append(r.kubeRouterSyncs, kubeRouterSyncs(b, n)[syncsBefore[n]:]...)
		}
	}
	ag.Stop()
	srv.Stop()
	return r
}

// changes creates and deletes the deny policy rounds times and returns how
// long each took to reach the watcher's connections.
func changes(b *testing.B, cs kubernetes.Interface, w *watcher, rounds int) (deny, allow []time.Duration) {
	for range rounds {
		t0 := time.Now()
		createDeny(b, cs)
		deny = append(deny, w.await("closed", t0).Sub(t0))
		t1 := time.Now()
		if err := cs.NetworkingV1().NetworkPolicies("default").Delete(context.Background(), "deny", metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		allow = append(allow, w.await("open", t1).Sub(t1))
	}
	return deny, allow
}

// createDeny isolates the target pod for ingress with no rule allowing any.
func createDeny(b *testing.B, cs kubernetes.Interface) {
	b.Helper()
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "target"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("default").Create(context.Background(), policy, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// watcher reads the watcher pod's log: lines "<unix ns> open|closed".
type watcher struct {
	b  *testing.B
	cs kubernetes.Interface
}

// await returns the time of the first change to state at or after since.
func (w *watcher) await(state string, since time.Time) time.Time {
	w.b.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		raw, err := w.cs.CoreV1().Pods("default").GetLogs("watcher", &corev1.PodLogOptions{}).DoRaw(context.Background())
		if err != nil {
			w.b.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 || f[1] != state {
				continue
			}
			ns, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				w.b.Fatalf("watcher log line %q", sc.Text())
			}
			if at := time.Unix(0, ns); !at.Before(since) {
				return at
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.b.Fatalf("the watcher saw no %q after %s within %s", state, since.Format(time.RFC3339Nano), bound)
	return time.Time{}
}
