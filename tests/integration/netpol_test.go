package integration

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// TestNetworkPolicy runs a server and an agent with pods in two
// namespaces (tests/testdata/netpol.yaml) and checks, on connections
// within a node and across the two: a default deny of ingress in a
// namespace, while the kubelet's probes keep passing; allow by
// podSelector, by namespaceSelector with a named port (TCP only); a pod
// moved to the other node keeps its policy; egress denied but to an
// ipBlock; deleting the policies opens everything again; with
// --disable network-policy, no node keeps edgeos's table and a deny
// policy is not enforced.
func TestNetworkPolicy(t *testing.T) {
	c := harness.New(t)
	echo := images.Build(t, "echo")
	nodes, cs := c.StartCluster(1, map[string][]byte{"echo.tar": echo})
	srv, ag := nodes[0], nodes[1]
	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/netpol.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	ips := readyPods(t, cs, map[string]string{"np-a/web-0": "", "np-a/web-1": "", "np-a/client": "", "np-a/other": "", "np-b/client": ""})
	web0, web1 := ips["np-a/web-0"], ips["np-a/web-1"]
	np := netProbe{t: t, n: srv}

	// nothing is isolated yet: a refusal later is the policy's
	np.reaches("np-a/other", web0)
	np.reaches("np-b/client", web1)

	// default deny of ingress in np-a; probes come from the node and pass
	start := time.Now()
	createPolicy(t, cs, "np-a", "deny", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}})
	np.refused("np-a/other", web0)  // same node
	np.refused("np-b/client", web1) // across nodes
	np.refused("np-a/client", web1) // same node, same namespace
	np.refusedUDP("np-b/client", web0)
	for _, name := range []string{"web-0", "web-1"} {
		p, err := cs.CoreV1().Pods("np-a").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// the refusals above took longer than one failed probe turns a
		// pod unready (a period of 1 s, one failure)
		if cond := readyOf(p); cond == nil || cond.Status != corev1.ConditionTrue || cond.LastTransitionTime.After(start) {
			t.Errorf("np-a/%s under a default deny: Ready %+v, want True since before the policy (%s): the kubelet's probes were refused", name, cond, start)
		}
	}

	// allow by podSelector: clients of np-a, any port
	createPolicy(t, cs, "np-a", "clients", networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}}}},
	})
	np.reaches("np-a/client", web0)
	np.reaches("np-a/client", web1)
	np.reachesUDP("np-a/client", web0)
	np.refused("np-a/other", web1)
	np.refused("np-b/client", web0) // a podSelector alone picks its own namespace's pods

	// allow by namespaceSelector, to the named port "http" (TCP)
	createPolicy(t, cs, "np-a", "team-b", networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromString("http"))}},
		}},
	})
	np.reaches("np-b/client", web0)
	np.reaches("np-b/client", web1)
	np.refusedUDP("np-b/client", web1)

	// web-1 moves to the server's node: its policies follow it there
	if err := cs.CoreV1().Pods("np-a").Delete(context.Background(), "web-1", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web-1 is gone", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods("np-a").Get(ctx, "web-1", metav1.GetOptions{})
		return err != nil, fmt.Errorf("still there")
	})
	moved := strings.Replace(string(readFile(t, filepath.Join(repoRoot(t), "tests/testdata/netpol.yaml"))), "name: web-1, namespace: np-a, labels: {app: web}}\nspec:\n  nodeSelector: {kubernetes.io/hostname: agent1}", "name: web-1, namespace: np-a, labels: {app: web}}\nspec:\n  nodeSelector: {kubernetes.io/hostname: server}", 1)
	if r := srv.Shell("kubectl apply -f - <<'EOF'\n" + moved + "\nEOF"); r.ExitCode != 0 {
		t.Fatalf("moving web-1: %s %s", r.Stdout, r.Stderr)
	}
	web1 = readyPods(t, cs, map[string]string{"np-a/web-1": srv.Name})["np-a/web-1"]
	np.reaches("np-a/client", web1) // now across nodes
	np.refused("np-a/other", web1)  // now on the same node

	// egress of np-b's client: only to web-0's address
	createPolicy(t, cs, "np-b", "egress", networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: web0 + "/32"}}}}},
	})
	np.reaches("np-b/client", web0)
	np.refused("np-b/client", web1)

	for _, n := range nodes {
		if r := n.Shell("nft list table inet edgeos-netpol"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "ip daddr vmap @ingress-pods") {
			t.Errorf("edgeos's table on %s: %s %s", n.Name, r.Stdout, r.Stderr)
		}
	}

	// the policies gone, everything is open again
	for _, ns := range []string{"np-a", "np-b"} {
		if err := cs.NetworkingV1().NetworkPolicies(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	np.reaches("np-a/other", web1)
	np.reaches("np-b/client", web1)

	// --disable network-policy: the nodes remove the table and a deny
	// policy is not enforced
	createPolicy(t, cs, "np-a", "deny-again", networkingv1.NetworkPolicySpec{})
	np.refused("np-a/other", web0)
	ag.Stop()
	srv.Stop()
	srv.Start(srv.ServerArgs("--disable", "network-policy")...)
	cs = srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	for _, n := range nodes {
		n.WaitNodeReady(cs)
		n.WaitLog("NetworkPolicy enforcement off")
		if r := n.Shell("nft list table inet edgeos-netpol"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such file or directory") {
			t.Errorf("with --disable network-policy, %s still has edgeos's table: %s %s", n.Name, r.Stdout, r.Stderr)
		}
	}
	readyPods(t, cs, map[string]string{"np-a/web-0": "", "np-a/other": ""})
	np.reaches("np-a/other", web0)
	ag.Stop()
	srv.Stop()
}

// netProbe opens connections from pods, with kubectl exec on node n.
type netProbe struct {
	t *testing.T
	n *harness.Node
}

func (p netProbe) get(from, ip string) harness.Result {
	ns, pod, _ := strings.Cut(from, "/")
	return p.n.Run("kubectl", "exec", "-n", ns, pod, "--", "/echo", "get", "http://"+net.JoinHostPort(ip, "8080")+"/np")
}

func (p netProbe) udp(from, ip string) harness.Result {
	ns, pod, _ := strings.Cut(from, "/")
	return p.n.Run("kubectl", "exec", "-n", ns, pod, "--", "/echo", "udp", net.JoinHostPort(ip, "8080"))
}

// reaches waits until from's HTTP request to ip:8080 is answered.
func (p netProbe) reaches(from, ip string) {
	p.t.Helper()
	eventually(p.t, from+" reaches "+ip+" by TCP", func(context.Context) (bool, error) {
		r := p.get(from, ip)
		return strings.Contains(r.Stdout, "echo from"), fmt.Errorf("%q %q", r.Stdout, r.Stderr)
	})
}

func (p netProbe) reachesUDP(from, ip string) {
	p.t.Helper()
	eventually(p.t, from+" reaches "+ip+" by UDP", func(context.Context) (bool, error) {
		r := p.udp(from, ip)
		return strings.Contains(r.Stdout, "udp echo from"), fmt.Errorf("%q %q", r.Stdout, r.Stderr)
	})
}

// refused waits until from's request to ip:8080 goes unanswered: the
// client's timeout, as a dropped connection ends (not a refusal by the
// server nor a failed exec).
func (p netProbe) refused(from, ip string) {
	p.t.Helper()
	eventually(p.t, from+" is refused "+ip+" by TCP", func(context.Context) (bool, error) {
		r := p.get(from, ip)
		return r.ExitCode != 0 && strings.Contains(r.Stderr, "Client.Timeout exceeded"), fmt.Errorf("%q %q", r.Stdout, r.Stderr)
	})
}

// refusedUDP waits until from's datagrams to ip:8080, where the pod's
// server answers UDP, go unanswered.
func (p netProbe) refusedUDP(from, ip string) {
	p.t.Helper()
	eventually(p.t, from+" is refused "+ip+" by UDP", func(context.Context) (bool, error) {
		r := p.udp(from, ip)
		return r.ExitCode != 0 && strings.Contains(r.Stderr, "no UDP answer"), fmt.Errorf("%q %q", r.Stdout, r.Stderr)
	})
}

func createPolicy(t *testing.T, cs kubernetes.Interface, ns, name string, spec networkingv1.NetworkPolicySpec) {
	t.Helper()
	pol := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(context.Background(), pol, metav1.CreateOptions{}); err != nil {
		t.Fatalf("NetworkPolicy %s/%s: %v", ns, name, err)
	}
}

// readyPods waits until each namespace/name pod is Ready (on the node
// named, when one is) and returns their addresses.
func readyPods(t *testing.T, cs kubernetes.Interface, want map[string]string) map[string]string {
	t.Helper()
	ips := map[string]string{}
	for key, node := range want {
		ns, name, _ := strings.Cut(key, "/")
		eventually(t, key+" is Ready", func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if node != "" && p.Spec.NodeName != node {
				return false, fmt.Errorf("on %q, want %q", p.Spec.NodeName, node)
			}
			ips[key] = p.Status.PodIP
			return podReady(*p) && p.Status.PodIP != "", fmt.Errorf("phase %s, conditions %+v", p.Status.Phase, p.Status.Conditions)
		})
	}
	return ips
}
