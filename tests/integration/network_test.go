package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// TestNetworking runs a server and two agents, each in its own namespaces:
// pods reach pods on other nodes over the VXLAN overlay by TCP and UDP with
// their own source address; a ClusterIP Service spreads over pods on
// several nodes; a NodePort answers on every node; a hostPort answers on its
// node; LoadBalancer Services get node addresses (checkServiceLB); pod
// egress leaves masqueraded as the node. A restarted agent carries
// cross-node traffic again by itself; a removed agent's routes, neighbours
// and FDB entries vanish from the other nodes.
func TestNetworking(t *testing.T) {
	c := harness.New(t)
	nodes, cs := c.StartCluster(2, map[string][]byte{"echo.tar": images.Build(t, "echo")})
	srv, a1, a2 := nodes[0], nodes[1], nodes[2]
	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/network.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	pods := podsByNode(t, cs, "app=net", len(nodes))
	from, to := pods[srv.Name], pods[a1.Name]

	// pod to pod across nodes, TCP and UDP, source address kept
	if r := srv.Run("kubectl", "exec", from.Name, "--", "/echo", "get", "http://"+net.JoinHostPort(to.Status.PodIP, "8080")+"/cross"); !strings.Contains(r.Stdout, "echo from "+to.Name+": /cross") {
		t.Errorf("TCP from a pod on %s to a pod on %s: %q %q", srv.Name, a1.Name, r.Stdout, r.Stderr)
	}
	r := srv.Run("kubectl", "exec", from.Name, "--", "/echo", "udp", net.JoinHostPort(to.Status.PodIP, "8080"))
	if want := fmt.Sprintf("udp echo from %s to %s:", to.Name, from.Status.PodIP); !strings.Contains(r.Stdout, want) {
		t.Errorf("UDP from a pod on %s to a pod on %s: %q %q, want %q", srv.Name, a1.Name, r.Stdout, r.Stderr, want)
	}

	// a ClusterIP Service answers from pods on more than one node
	svc, err := cs.CoreV1().Services("default").Get(context.Background(), "net", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	answered := map[string]bool{}
	eventually(t, "the ClusterIP Service is answered by pods on two nodes", func(ctx context.Context) (bool, error) {
		r := srv.Run("kubectl", "exec", from.Name, "--", "/echo", "get", "http://"+svc.Spec.ClusterIP+"/svc")
		for node, p := range pods {
			if strings.Contains(r.Stdout, "echo from "+p.Name+": /svc") {
				answered[node] = true
			}
		}
		return len(answered) >= 2, fmt.Errorf("answered by pods on %v; last: %q %q", answered, r.Stdout, r.Stderr)
	})

	// NodePort on every node, hostPort on its node, from outside the cluster
	for _, n := range nodes {
		eventually(t, "the NodePort answers on "+n.Name, func(context.Context) (bool, error) {
			body, err := httpGet("http://" + net.JoinHostPort(n.IP, "30080") + "/nodeport")
			return strings.Contains(body, ": /nodeport"), err
		})
	}
	eventually(t, "the hostPort answers on "+a1.Name, func(context.Context) (bool, error) {
		body, err := httpGet("http://" + net.JoinHostPort(a1.IP, "18081") + "/hostport")
		return strings.Contains(body, "echo from hostport: /hostport"), err
	})

	checkServiceLB(t, cs, nodes)

	// egress: a server outside the cluster sees the node's address
	peer := listenOnHost(t, c)
	r = srv.Run("kubectl", "exec", pods[a2.Name].Name, "--", "/echo", "get", peer+"/egress")
	if host, _, _ := net.SplitHostPort(strings.TrimSpace(r.Stdout)); host != a2.IP {
		t.Errorf("a pod on %s reached a server outside the cluster from %q (%s), want the node's address %s", a2.Name, r.Stdout, r.Stderr, a2.IP)
	}

	// a restarted agent carries cross-node traffic again by itself
	if code := a1.Stop(); code != 0 {
		t.Errorf("%s exit code %d", a1.Name, code)
	}
	a1.Start(a1.AgentArgs(srv)...)
	a1.WaitLog("edgeos agent is ready")
	eventually(t, "cross-node traffic resumes after the agent restarts", func(context.Context) (bool, error) {
		r := srv.Run("kubectl", "exec", from.Name, "--", "/echo", "get", "http://"+net.JoinHostPort(to.Status.PodIP, "8080")+"/again")
		return strings.Contains(r.Stdout, "echo from "+to.Name+": /again"), fmt.Errorf("%q %q", r.Stdout, r.Stderr)
	})

	// a removed agent leaves nothing behind on the other nodes
	gone, err := cs.CoreV1().Nodes().Get(context.Background(), a2.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*harness.Node{srv, a1} {
		if s := overlayState(n); !strings.Contains(s, gone.Spec.PodCIDR) || !strings.Contains(s, a2.IP) {
			t.Errorf("before removal, %s has no overlay entries for %s (%s, %s):\n%s", n.Name, a2.Name, gone.Spec.PodCIDR, a2.IP, s)
		}
	}
	if code := a2.Stop(); code != 0 {
		t.Errorf("%s exit code %d", a2.Name, code)
	}
	if r := srv.Run("kubectl", "delete", "node", a2.Name); r.ExitCode != 0 {
		t.Fatalf("deleting node %s: %s", a2.Name, r.Stderr)
	}
	gw := strings.TrimSuffix(gone.Spec.PodCIDR, "/24")
	for _, n := range []*harness.Node{srv, a1} {
		eventually(t, "the overlay entries of "+a2.Name+" vanish from "+n.Name, func(context.Context) (bool, error) {
			s := overlayState(n)
			return !strings.Contains(s, gone.Spec.PodCIDR) && !strings.Contains(s, gw+" ") && !strings.Contains(s, "dst "+a2.IP+" "), fmt.Errorf("%s", s)
		})
	}
	a1.Stop()
	srv.Stop()
}

// checkServiceLB: LoadBalancer Services get node addresses and answer
// there; externalTrafficPolicy Local narrows them to nodes with endpoints; a
// second Service on a taken port waits with an Event until the first goes.
func checkServiceLB(t *testing.T, cs kubernetes.Interface, nodes []*harness.Node) {
	t.Helper()
	ctx := context.Background()
	var all []string
	for _, n := range nodes {
		all = append(all, n.IP)
	}
	slices.Sort(all)
	ingress := func(name string, want []string) {
		eventually(t, fmt.Sprintf("LoadBalancer %s gets addresses %v", name, want), func(ctx context.Context) (bool, error) {
			s, err := cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			var got []string
			for _, in := range s.Status.LoadBalancer.Ingress {
				got = append(got, in.IP)
			}
			return slices.Equal(got, want), fmt.Errorf("status lists %v", got)
		})
	}
	answers := func(ip, port, want string) {
		eventually(t, "the LoadBalancer answers at "+ip+":"+port, func(context.Context) (bool, error) {
			body, err := httpGet("http://" + net.JoinHostPort(ip, port) + "/lb")
			return strings.Contains(body, want), err
		})
	}
	ingress("lb-first", all)
	for _, ip := range all {
		answers(ip, "8088", ": /lb")
	}
	ingress("lb-local", []string{nodes[1].IP})
	answers(nodes[1].IP, "8089", "echo from hostport: /lb")
	// hairpin: the Service's only pod reaches itself through the ClusterIP
	local, err := cs.CoreV1().Services("default").Get(ctx, "lb-local", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := nodes[0].Run("kubectl", "exec", "hostport", "--", "/echo", "get", "http://"+net.JoinHostPort(local.Spec.ClusterIP, "8089")+"/hairpin"); !strings.Contains(r.Stdout, "echo from hostport: /hairpin") {
		t.Errorf("a pod reaching itself through its Service (hairpin): %q %q", r.Stdout, r.Stderr)
	}

	second := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "lb-second"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "net"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8088, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, second, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second Service on port 8088 waits, with an Event saying why", func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=lb-second"})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == "Pending" && strings.Contains(e.Message, "port 8088/TCP") && strings.Contains(e.Message, "in use by LoadBalancer Service default/lb-first") {
				return true, nil
			}
		}
		return false, fmt.Errorf("events: %v", evs.Items)
	})
	if s, err := cs.CoreV1().Services("default").Get(ctx, "lb-second", metav1.GetOptions{}); err != nil {
		t.Errorf("the second Service: %v", err)
	} else if len(s.Status.LoadBalancer.Ingress) > 0 {
		t.Errorf("the second Service got %v while the port was taken", s.Status.LoadBalancer.Ingress)
	}
	if err := cs.CoreV1().Services("default").Delete(ctx, "lb-first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ingress("lb-second", all)
	answers(nodes[0].IP, "8088", ": /lb")
}

// TestCNINone: with --cni none the node waits, NotReady, for a CNI config
// of the user's, and edgeos makes no bridge and no overlay.
func TestCNINone(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("node")
	n.Start(n.ServerArgs("--cni", "none")...)
	cs := n.WaitReady()
	var node *corev1.Node
	eventually(t, "the node registers NotReady for want of a network plugin", func(ctx context.Context) (bool, error) {
		got, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = got
		cond := readyCondition(got)
		return cond != nil && cond.Status == corev1.ConditionFalse && strings.Contains(cond.Message, "network"), nil
	})
	for _, link := range []string{"edgeos0", "edgeos.1"} {
		if r := n.Shell("ip link show " + link); r.ExitCode == 0 {
			t.Errorf("--cni none, yet edgeos made %s: %s", link, r.Stdout)
		}
	}
	if r := n.Shell("ls " + filepath.Join(n.DataDir, "agent/etc/cni/net.d")); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("--cni none, yet edgeos wrote a CNI config: %s", r.Stdout)
	}
	// the user's CNI arrives
	conf := `{"cniVersion": "1.0.0", "name": "mine", "plugins": [{"type": "loopback"}]}`
	if r := n.Shell(fmt.Sprintf("mkdir -p %[1]s && echo '%[2]s' > %[1]s/10-mine.conflist", filepath.Join(n.DataDir, "agent/etc/cni/net.d"), conf)); r.ExitCode != 0 {
		t.Fatal(r.Stderr)
	}
	nodeReady(t, cs, n.Name, readyCondition(node).LastHeartbeatTime.Time.Add(-time.Second))
	n.Stop()
}

// podsByNode waits until want pods with the label run, one per node.
func podsByNode(t *testing.T, cs kubernetes.Interface, selector string, want int) map[string]corev1.Pod {
	t.Helper()
	out := map[string]corev1.Pod{}
	eventually(t, fmt.Sprintf("%d pods %s run, one per node", want, selector), func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		clear(out)
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				out[p.Spec.NodeName] = p
			}
		}
		return len(out) == want, nil
	})
	return out
}

func httpGet(url string) (string, error) {
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// listenOnHost serves, on the host's address on the cluster bridge, the
// remote address of each request, and returns its URL.
func listenOnHost(t *testing.T, c *harness.Cluster) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(c.HostIP(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.RemoteAddr)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// overlayState is the node's overlay routes, neighbours and FDB entries.
func overlayState(n *harness.Node) string {
	r := n.Shell("ip route show dev edgeos.1; ip neigh show dev edgeos.1 nud permanent; bridge fdb show dev edgeos.1")
	return r.Stdout + r.Stderr
}
