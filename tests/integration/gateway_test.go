package integration

import (
	"context"
	"crypto/tls"
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
