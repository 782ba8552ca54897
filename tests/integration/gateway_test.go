package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// checkGateway applies tests/testdata/gateway.yaml beside the Ingress: the
// class and the Gateway are accepted and programmed on both nodes'
// addresses; routes match by path and header, redirect and rewrite, on
// HTTP, HTTPS (the listener's certificate by SNI) and a port of the
// Gateway's own; a backend in another namespace without a ReferenceGrant is
// said in the route's status and answered with 500; the Ingress's hosts
// are served as before. The server restarted without --gateway-api, the
// proxies stop serving the Gateway API, and the Ingress goes on.
func checkGateway(t *testing.T, cs kubernetes.Interface, srv *harness.Node, nodes []*harness.Node) {
	t.Helper()
	ctx := context.Background()
	gc, err := gatewayclient.NewForConfig(srv.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the GatewayClass edgeos is accepted", func(ctx context.Context) (bool, error) {
		class, err := gc.GatewayV1().GatewayClasses().Get(ctx, "edgeos", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(class.Status.Conditions, "Accepted"), fmt.Errorf("conditions %+v", class.Status.Conditions)
	})
	crt := newCert(t, "secure.gw.example")
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, crt.secret("gw-cert"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/gateway.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	var all []string
	for _, n := range nodes {
		all = append(all, n.IP)
	}
	slices.Sort(all)
	eventually(t, fmt.Sprintf("the Gateway is programmed on %v", all), func(ctx context.Context) (bool, error) {
		gw, err := gc.GatewayV1().Gateways("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var got []string
		for _, a := range gw.Status.Addresses {
			got = append(got, a.Value)
		}
		attached := map[string]int32{}
		for _, l := range gw.Status.Listeners {
			if meta.IsStatusConditionTrue(l.Conditions, "Programmed") {
				attached[string(l.Name)] = l.AttachedRoutes
			}
		}
		want := map[string]int32{"http": 2, "https": 1, "alt": 1}
		ok := meta.IsStatusConditionTrue(gw.Status.Conditions, "Programmed") && slices.Equal(got, all) && fmt.Sprint(attached) == fmt.Sprint(want)
		return ok, fmt.Errorf("addresses %v, programmed listeners and their routes %v, conditions %+v", got, attached, gw.Status.Conditions)
	})
	eventually(t, "route far says its backend is not permitted", func(ctx context.Context) (bool, error) {
		r, err := gc.GatewayV1().HTTPRoutes("default").Get(ctx, "far", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, p := range r.Status.Parents {
			c := meta.FindStatusCondition(p.Conditions, "ResolvedRefs")
			if p.ControllerName == "edgeos.io/gateway-controller" && c != nil && c.Status == metav1.ConditionFalse && c.Reason == "RefNotPermitted" &&
				meta.IsStatusConditionTrue(p.Conditions, "Accepted") {
				return true, nil
			}
		}
		return false, fmt.Errorf("parents %+v", r.Status.Parents)
	})
	ag := nodes[len(nodes)-1]
	for _, tc := range []struct {
		port             int
		host, path, site string
		headers          []string
		code             int
		want             string
	}{
		{80, "app.gw.example", "/a/x", "", nil, 200, ": /a/x site-a"},
		{80, "app.gw.example", "/x", "", []string{"X-Site", "b"}, 200, ": /x site-b"},
		{80, "app.gw.example", "/x", "", nil, 404, ""},
		{80, "app.gw.example", "/old", "", nil, 301, "https://app.gw.example/old"},
		{80, "app.gw.example", "/rewrite/z", "", nil, 200, ": /new/z site-a"},
		{80, "far.gw.example", "/", "", nil, 500, "no ReferenceGrant in namespace kube-system"},
		{80, "a.example", "/beside", "", nil, 200, ": /beside site-a"},
		{8080, "anything.example", "/alt", "", nil, 200, ": /alt site-b"},
	} {
		eventually(t, fmt.Sprintf("%s:%d%s %v through %s", tc.host, tc.port, tc.path, tc.headers, ag.Name), func(context.Context) (bool, error) {
			resp, body, err := viaGateway(ag.IP, tc.port, tc.host, tc.path, tc.headers...)
			if err != nil {
				return false, err
			}
			got := body
			if tc.code == 301 {
				got = resp.Header.Get("Location")
			}
			return resp.StatusCode == tc.code && strings.Contains(got, tc.want), fmt.Errorf("%d %q", resp.StatusCode, got)
		})
	}
	if resp, _, err := viaGateway(ag.IP, 80, "app.gw.example", "/rewrite/z"); err != nil || resp.Header.Get("X-Gateway") != "edgeos" {
		t.Errorf("the response header filter: %v %v", resp, err)
	}
	// HTTPS: the listener's certificate, and the route attached to it
	addr := net.JoinHostPort(srv.IP, "443")
	if got := served(addr, "secure.gw.example"); got != crt.serial() {
		t.Errorf("secure.gw.example is served certificate %s, want gw-cert's %s", got, crt.serial())
	}
	hc := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: crt.pool(), ServerName: "secure.gw.example"}}}
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/a/tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "secure.gw.example"
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("HTTPS through the Gateway: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), ": /a/tls site-a") {
		t.Errorf("HTTPS through the Gateway: %d %q", resp.StatusCode, body)
	}

	// a LoadBalancer Service asking for the Gateway's port after it waits
	// (it selects no pod: while it has the port, nothing answers there)
	lbSvc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "late-gw-lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "none"},
			Ports: []corev1.ServicePort{{Port: 8080, Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, lbSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the later LoadBalancer Service waits for the Gateway's port 8080", func(ctx context.Context) (bool, error) {
		return hasEvent(ctx, cs, "Service", "late-gw-lb", "Pending", "in use by the ingress proxy (Gateway default/web)")
	})
	if s, err := cs.CoreV1().Services("default").Get(ctx, "late-gw-lb", metav1.GetOptions{}); err != nil || len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("the later LoadBalancer Service got addresses: %+v %v", s.Status.LoadBalancer, err)
	}
	if resp, body, err := viaGateway(ag.IP, 8080, "anything.example", "/alt"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the Gateway's port 8080 after a LoadBalancer Service asked for it: %v %q %v", resp, body, err)
	}

	checkGatewayAddresses(t, gc, cs, srv, nodes)

	// without --gateway-api the proxies stop following it; the Ingress
	// stays served
	srv.Stop()
	srv.Start(srv.ServerArgs()...)
	srv.WaitReady()
	eventually(t, "the proxies stop serving the Gateway's routes", func(context.Context) (bool, error) {
		resp, body, err := viaGateway(ag.IP, 80, "app.gw.example", "/a/x")
		if err != nil {
			return false, err
		}
		return resp.StatusCode == 404, fmt.Errorf("%d %q", resp.StatusCode, body)
	})
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(ag.IP, "8080"), 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("the Gateway's own port 8080 still listens without --gateway-api")
	}
	for _, n := range nodes {
		eventually(t, "the Ingress through "+n.Name+" without --gateway-api", func(context.Context) (bool, error) {
			code, body, err := viaIngress(n.IP, "a.example", "/still")
			return code == 200 && strings.Contains(body, ": /still site-a"), fmt.Errorf("%d %q %v", code, body, err)
		})
	}
}

// checkGatewayAddresses restarts the server with a pool of Gateway
// addresses on the harness's network: the Gateway gets one, held by one
// node, served there, and its port 8080 leaves the nodes' addresses. The
// LoadBalancer Service that waited for that port gets it. The node holding
// it restarted out of the ingress, the other takes the
// address and tells the host by gratuitous ARP (the host's neighbour entry
// changes without a request sent); requests reach the Gateway again. The
// node is then restarted as it was.
func checkGatewayAddresses(t *testing.T, gc gatewayclient.Interface, cs kubernetes.Interface, srv *harness.Node, nodes []*harness.Node) {
	t.Helper()
	subnet := srv.IP[:strings.LastIndex(srv.IP, ".")]
	vip := subnet + ".200"
	flags := []string{"--gateway-api", "--gateway-addresses", vip + "-" + subnet + ".209"}
	srv.Stop()
	srv.Start(srv.ServerArgs(flags...)...)
	srv.WaitReady()
	eventually(t, "the Gateway gets "+vip, func(ctx context.Context) (bool, error) {
		gw, err := gc.GatewayV1().Gateways("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ok := len(gw.Status.Addresses) == 1 && gw.Status.Addresses[0].Value == vip && meta.IsStatusConditionTrue(gw.Status.Conditions, "Programmed")
		return ok, fmt.Errorf("addresses %+v, conditions %+v", gw.Status.Addresses, gw.Status.Conditions)
	})
	ip := func(n *harness.Node, args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"-n", n.NetNS}, args...)...).Output()
		return string(out), err
	}
	holder := func() (*harness.Node, error) {
		var on []*harness.Node
		for _, n := range nodes {
			addrs, err := ip(n, "-4", "-o", "addr", "show", "dev", "eth0")
			if err != nil {
				return nil, err
			}
			if strings.Contains(addrs, " "+vip+"/32 ") {
				on = append(on, n)
			}
		}
		if len(on) != 1 {
			return nil, fmt.Errorf("%s is on %d nodes", vip, len(on))
		}
		return on[0], nil
	}
	var held *harness.Node
	eventually(t, vip+" is on one node and reaches the Gateway's routes", func(context.Context) (bool, error) {
		var err error
		if held, err = holder(); err != nil {
			return false, err
		}
		resp, body, err := viaGateway(vip, 8080, "anything.example", "/alt")
		if err != nil {
			return false, err
		}
		return resp.StatusCode == 200 && strings.Contains(body, ": /alt site-b"), fmt.Errorf("%d %q", resp.StatusCode, body)
	})
	if resp, body, err := viaGateway(vip, 80, "app.gw.example", "/a/x"); err != nil || resp.StatusCode != 200 || !strings.Contains(body, ": /a/x site-a") {
		t.Errorf("%s:80 app.gw.example/a/x: %v %q %v", vip, resp, body, err)
	}
	for _, n := range nodes {
		eventually(t, "port 8080 leaves "+n.Name+"'s address", func(context.Context) (bool, error) {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(n.IP, "8080"), 5*time.Second)
			if err == nil {
				conn.Close()
			}
			return err != nil, fmt.Errorf("port 8080 still answers")
		})
	}
	eventually(t, "the LoadBalancer Service that waited gets port 8080", func(ctx context.Context) (bool, error) {
		s, err := cs.CoreV1().Services("default").Get(ctx, "late-gw-lb", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(s.Status.LoadBalancer.Ingress) == len(nodes), fmt.Errorf("status %+v", s.Status.LoadBalancer)
	})
	if err := cs.CoreV1().Services("default").Delete(context.Background(), "late-gw-lb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	other := nodes[0]
	if other == held {
		other = nodes[1]
	}
	t.Logf("%s holds %s; restarting it out of the ingress", held.Name, vip)
	restart := func(n *harness.Node, more ...string) {
		n.Stop()
		if n == srv {
			n.Start(n.ServerArgs(append(slices.Clone(flags), more...)...)...)
		} else {
			n.Start(n.AgentArgs(srv, more...)...)
		}
	}
	restart(held, "--disable-ingress-proxy")
	held.WaitLog("Ingress proxy off on this node")
	link, err := ip(other, "-br", "link", "show", "eth0")
	mac := strings.Fields(link)
	if err != nil || len(mac) < 3 {
		t.Fatalf("%s's eth0: %q %v", other.Name, link, err)
	}
	eventually(t, vip+" moves to "+other.Name+" and the host learns it unasked", func(context.Context) (bool, error) {
		on, err := holder()
		if err != nil {
			return false, err
		}
		neigh, err := exec.Command("ip", "neigh", "show", vip).Output()
		if err != nil {
			return false, err
		}
		return on == other && strings.Contains(string(neigh), "lladdr "+mac[2]+" "), fmt.Errorf("on %s; the host's entry %q, want %s", on.Name, neigh, mac[2])
	})
	eventually(t, "the Gateway through "+vip+" on "+other.Name, func(context.Context) (bool, error) {
		resp, body, err := viaGateway(vip, 80, "app.gw.example", "/a/x")
		if err != nil {
			return false, err
		}
		return resp.StatusCode == 200 && strings.Contains(body, ": /a/x site-a"), fmt.Errorf("%d %q", resp.StatusCode, body)
	})
	restart(held)
	if held == srv {
		held.WaitReady()
	} else {
		held.WaitLog("Ingress proxy serving")
	}
}

// viaGateway sends one request to a node's proxy on port, with headers.
func viaGateway(ip string, port int, host, path string, headers ...string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s%s", net.JoinHostPort(ip, fmt.Sprint(port)), path), nil)
	if err != nil {
		return nil, "", err
	}
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}
