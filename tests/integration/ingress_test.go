package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestIngress runs a server and an agent: an Ingress with two hosts and
// path rules reaches pods on both nodes through either node's proxy, with
// the X-Forwarded headers; TLS is chosen by SNI from two Secrets (edgeos's
// own certificate for other names) over HTTP/2; a rotated Secret is served
// to new handshakes while a kept-alive connection goes on; WebSocket
// messages pass; a connection refused by one endpoint is retried on
// another; no request fails once a killed endpoint has left the
// EndpointSlice, nor while a Deployment rolls; what cannot be served gets
// Events while the rest keeps working; a LoadBalancer Service asking for
// the proxy's port after the Ingress waits. With --gateway-api the Gateway
// API is served beside the Ingress (checkGateway).
func TestIngress(t *testing.T) {
	c := harness.New(t)
	nodes, cs := c.StartClusterWith(1, map[string][]byte{"echo.tar": images.Build(t, "echo")}, []string{"--gateway-api"})
	srv, ag := nodes[0], nodes[1]
	ctx := context.Background()

	a1, b := newCert(t, "a.example"), newCert(t, "b.example")
	for name, crt := range map[string]testCert{"tls-a": a1, "tls-b": b} {
		if _, err := cs.CoreV1().Secrets("default").Create(ctx, crt.secret(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/ingress.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	class, err := cs.NetworkingV1().IngressClasses().Get(ctx, "edgeos", metav1.GetOptions{})
	if err != nil || class.Annotations[networkingv1.AnnotationIsDefaultIngressClass] != "true" || class.Spec.Controller != "edgeos.io/ingress" {
		t.Fatalf("IngressClass edgeos: %+v %v", class, err)
	}
	all := []string{srv.IP, ag.IP}
	slices.Sort(all)
	eventually(t, fmt.Sprintf("the Ingress's status lists %v", all), func(ctx context.Context) (bool, error) {
		ing, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "sites", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var got []string
		for _, in := range ing.Status.LoadBalancer.Ingress {
			got = append(got, in.IP)
		}
		return slices.Equal(got, all), fmt.Errorf("status lists %v", got)
	})

	// hosts and paths, to pods on both nodes, through each node
	podsA := podsByNode(t, cs, "app=web-a", 2)
	podsByNode(t, cs, "app=web-b", 2)
	for _, n := range nodes {
		answered := map[string]bool{}
		eventually(t, "a.example through "+n.Name+" reaches web-a's pods on both nodes", func(context.Context) (bool, error) {
			_, body, err := viaIngress(n.IP, "a.example", "/x")
			for _, p := range podsA {
				if strings.Contains(body, "echo from "+p.Name+": /x site-a") {
					answered[p.Name] = true
				}
			}
			return len(answered) == 2, fmt.Errorf("answered by %v; last: %q %v", answered, body, err)
		})
	}
	for _, tc := range []struct {
		host, path string
		code       int
		want       string
	}{
		{"b.example", "/api/v1", 200, ": /api/v1 site-b"},
		{"B.Example:80", "/api", 200, ": /api site-b"},
		{"b.example", "/apix", 404, ""},
		{"a.example", "/b-exact", 200, ": /b-exact site-b"},
		{"a.example", "/b-exact/more", 200, ": /b-exact/more site-a"},
		{"nowhere.example", "/", 404, ""},
		{"a.example", "/headers", 200, fmt.Sprintf("host=a.example for=%s proto=http forwarded-host=a.example", c.HostIP())},
	} {
		code, body, err := viaIngress(ag.IP, tc.host, tc.path)
		if err != nil || code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s%s: %d %q %v, want %d %q", tc.host, tc.path, code, body, err, tc.code, tc.want)
		}
	}

	checkIngressTLS(t, cs, srv, a1, b)
	checkWebSocket(t, ag)
	checkRefusedRetried(t, cs, srv, ag, podsA)
	checkNoLossUnderChange(t, cs, srv, nodes)
	checkIngressProblems(t, cs, srv)
	checkGateway(t, cs, srv, nodes)
	checkPortClaim(t, cs, srv)
	checkNodeKeptOut(t, cs, srv, ag)
	checkTurnedOff(t, srv, nodes)
}

// checkNodeKeptOut restarts the agent with --disable-ingress-proxy: its
// proxy stops, and the Ingress's status names the server only.
func checkNodeKeptOut(t *testing.T, cs kubernetes.Interface, srv, ag *harness.Node) {
	t.Helper()
	ag.Stop()
	ag.Start(ag.AgentArgs(srv, "--disable-ingress-proxy")...)
	ag.WaitLog("Ingress proxy off on this node")
	eventually(t, "the Ingress's status lists only the server", func(ctx context.Context) (bool, error) {
		ing, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "sites", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var got []string
		for _, in := range ing.Status.LoadBalancer.Ingress {
			got = append(got, in.IP)
		}
		return slices.Equal(got, []string{srv.IP}), fmt.Errorf("status lists %v", got)
	})
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(ag.IP, "80"), 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("the agent kept out of the ingress listens on port 80")
	}
	if code, body, err := viaIngress(srv.IP, "a.example", "/kept-out"); code != 200 || !strings.Contains(body, ": /kept-out site-a") {
		t.Errorf("through the server while the agent is out: %d %q %v", code, body, err)
	}
}

// checkTurnedOff restarts the server with --disable ingress: the class
// goes, and every node's proxy stops listening and says so on its Node.
func checkTurnedOff(t *testing.T, srv *harness.Node, nodes []*harness.Node) {
	t.Helper()
	srv.Stop()
	srv.Start(srv.ServerArgs("--disable", "ingress")...)
	cs := srv.WaitReady()
	for _, n := range nodes {
		eventually(t, "the proxy on "+n.Name+" stops", func(ctx context.Context) (bool, error) {
			node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conn, dialErr := net.DialTimeout("tcp", net.JoinHostPort(n.IP, "80"), 5*time.Second)
			if dialErr == nil {
				conn.Close()
			}
			_, labelled := node.Labels["ingress.edgeos.io/proxy"]
			return dialErr != nil && !labelled, fmt.Errorf("port 80: %v; labels %v", dialErr, node.Labels)
		})
	}
	if _, err := cs.NetworkingV1().IngressClasses().Get(context.Background(), "edgeos", metav1.GetOptions{}); err == nil {
		t.Error("the IngressClass outlived --disable ingress")
	}
}

// viaIngress sends one request to a node's proxy on port 80.
func viaIngress(ip, host, path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(ip, "80")+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	hc := http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// checkIngressTLS: a certificate per server name, edgeos's own for others,
// HTTP/2; a rotated Secret reaches new handshakes and leaves a kept-alive
// connection alone.
func checkIngressTLS(t *testing.T, cs kubernetes.Interface, srv *harness.Node, a1, b testCert) {
	t.Helper()
	addr := net.JoinHostPort(srv.IP, "443")
	eventually(t, "each server name gets its certificate", func(context.Context) (bool, error) {
		return served(addr, "a.example") == a1.serial() && served(addr, "b.example") == b.serial(), fmt.Errorf("a.example: %s, b.example: %s", served(addr, "a.example"), served(addr, "b.example"))
	})
	if got := servedSubject(addr, "other.example"); got != "edgeos ingress default certificate" {
		t.Errorf("a name without a certificate gets %q", got)
	}

	kept := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "a.example", RootCAs: a1.pool()}, ForceAttemptHTTP2: true}
	defer kept.CloseIdleConnections()
	var conns []net.Conn
	send := func() *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/tls", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "a.example"
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Conn) }}))
		resp, err := kept.RoundTrip(req)
		if err != nil {
			t.Fatalf("over TLS: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), ": /tls site-a") {
			t.Errorf("over TLS: %q", b)
		}
		return resp
	}
	if resp := send(); resp.Proto != "HTTP/2.0" {
		t.Errorf("over TLS the client was served %s, want HTTP/2.0", resp.Proto)
	}

	a2 := newCert(t, "a.example")
	s, err := cs.CoreV1().Secrets("default").Get(context.Background(), "tls-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data = a2.secret("tls-a").Data
	if _, err := cs.CoreV1().Secrets("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new handshakes get the rotated certificate", func(context.Context) (bool, error) {
		got := served(addr, "a.example")
		return got == a2.serial(), fmt.Errorf("served %s, rotated %s", got, a2.serial())
	})
	resp := send()
	if len(conns) != 2 || conns[0] != conns[1] {
		t.Errorf("the kept-alive connection was not kept: %d connections", len(conns))
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.String(); got != a1.serial() {
		t.Errorf("the kept-alive connection changed certificate: %s", got)
	}
}

// served is the serial of the certificate a new handshake with name gets.
func served(addr, name string) string {
	c := peerCert(addr, name)
	if c == nil {
		return "none"
	}
	return c.SerialNumber.String()
}

func servedSubject(addr, name string) string {
	if c := peerCert(addr, name); c != nil {
		return c.Subject.CommonName
	}
	return ""
}

func peerCert(addr, name string) *x509.Certificate {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func checkWebSocket(t *testing.T, n *harness.Node) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial("ws://"+net.JoinHostPort(n.IP, "80")+"/ws", http.Header{"Host": {"a.example"}})
	if err != nil {
		t.Fatalf("WebSocket through the ingress: %v %v", resp, err)
	}
	defer conn.Close()
	for i := range 3 {
		msg := fmt.Sprintf("hello %d", i)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, got, err := conn.ReadMessage()
		if err != nil || !strings.HasSuffix(string(got), ": "+msg) {
			t.Errorf("WebSocket echo of %q: %q %v", msg, got, err)
		}
	}
}

// checkRefusedRetried: the Service "mixed" has two endpoints, one of them a
// port where nothing listens; every request is answered.
func checkRefusedRetried(t *testing.T, cs kubernetes.Interface, srv, ag *harness.Node, pods map[string]corev1.Pod) {
	t.Helper()
	port, number := "http", int32(8080)
	ready := true
	var pod corev1.Pod
	for _, p := range pods {
		pod = p
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "mixed-manual", Labels: map[string]string{discoveryv1.LabelServiceName: "mixed"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &number}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{pod.Status.PodIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
			{Addresses: []string{ag.IP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}, // nothing listens on 8080 there
		},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(context.Background(), slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "mixed.example answers", func(context.Context) (bool, error) {
		_, body, err := viaIngress(srv.IP, "mixed.example", "/m")
		return strings.Contains(body, ": /m site-a"), fmt.Errorf("%q %v", body, err)
	})
	for i := range 20 {
		if code, body, err := viaIngress(srv.IP, "mixed.example", "/m"); code != 200 || err != nil {
			t.Errorf("request %d with one endpoint refusing: %d %q %v", i, code, body, err)
		}
	}
}

// ingressLoad sends requests to a.example through every node until stopped,
// bounded in count, and keeps each failure with when its request started.
type ingressLoad struct {
	mu       sync.Mutex
	sent     int
	failures []failure
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
}

type failure struct {
	at  time.Time
	why string
}

const loadWorkers, loadMaxPerWorker = 4, 20000

func startLoad(nodes []*harness.Node) *ingressLoad {
	l := &ingressLoad{stop: make(chan struct{})}
	for w := range loadWorkers {
		n := nodes[w%len(nodes)]
		l.done.Go(func() {
			for range loadMaxPerWorker {
				select {
				case <-l.stop:
					return
				default:
				}
				at := time.Now()
				code, body, err := viaIngress(n.IP, "a.example", "/load")
				l.mu.Lock()
				l.sent++
				if err != nil || code != 200 || !strings.Contains(body, ": /load site-a") {
					l.failures = append(l.failures, failure{at, fmt.Sprintf("via %s: %d %q %v", n.Name, code, body, err)})
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// end stops the load (again: no harm) and returns what it saw.
func (l *ingressLoad) end() (int, []failure) {
	l.stopOnce.Do(func() { close(l.stop) })
	l.done.Wait()
	return l.sent, l.failures
}

func (l *ingressLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}

// waitSent waits until the load has sent n more requests.
func (l *ingressLoad) waitSent(t *testing.T, n int) {
	t.Helper()
	base := l.count()
	eventually(t, fmt.Sprintf("the load sends %d more requests", n), func(context.Context) (bool, error) {
		return l.count() >= base+n, nil
	})
}

// checkNoLossUnderChange kills one of web-a's processes under load, then
// rolls web-a: no request fails once the killed endpoint is out of the
// EndpointSlice, and none while the Deployment rolls.
func checkNoLossUnderChange(t *testing.T, cs kubernetes.Interface, srv *harness.Node, nodes []*harness.Node) {
	t.Helper()
	l := startLoad(nodes)
	defer l.end()
	l.waitSent(t, 100)
	pods := podsByNode(t, cs, "app=web-a", 2)
	victim := pods[nodes[1].Name]
	killPodProcess(t, victim.Name)
	var gone time.Time
	eventually(t, "the killed endpoint leaves web-a's ready endpoints", func(ctx context.Context) (bool, error) {
		if !readyEndpoint(ctx, cs, "web-a", victim.Status.PodIP) {
			gone = time.Now()
			return true, nil
		}
		return false, nil
	})
	eventually(t, "the killed endpoint is ready again", func(ctx context.Context) (bool, error) {
		return readyEndpoint(ctx, cs, "web-a", victim.Status.PodIP), nil
	})
	l.waitSent(t, 100)
	rolled := time.Now()
	if r := srv.Run("kubectl", "rollout", "restart", "deployment/web-a"); r.ExitCode != 0 {
		t.Fatalf("rollout restart: %s %s", r.Stdout, r.Stderr)
	}
	if r := srv.Run("kubectl", "rollout", "status", "deployment/web-a", "--timeout=3m"); r.ExitCode != 0 {
		t.Fatalf("rollout status: %s %s", r.Stdout, r.Stderr)
	}
	l.waitSent(t, 100)
	sent, failures := l.end()
	var afterGone, before []string
	for _, f := range failures {
		if f.at.After(gone) {
			afterGone = append(afterGone, f.why)
		} else {
			before = append(before, f.why)
		}
	}
	t.Logf("load: %d requests, %d failed while the killed endpoint was still listed: %v", sent, len(before), before[:min(len(before), 5)])
	if len(afterGone) > 0 {
		t.Errorf("%d requests failed after the killed endpoint left the EndpointSlice (rollout began %s after): %v", len(afterGone), rolled.Sub(gone).Round(time.Second), afterGone[:min(len(afterGone), 5)])
	}
}

// readyEndpoint reports whether ip is a ready endpoint of Service svc.
func readyEndpoint(ctx context.Context, cs kubernetes.Interface, svc, ip string) bool {
	l, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return false
	}
	for _, s := range l.Items {
		for _, ep := range s.Endpoints {
			if slices.Contains(ep.Addresses, ip) && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				return true
			}
		}
	}
	return false
}

// killPodProcess sends SIGKILL to the echo server of a pod, found by the
// HOSTNAME the kubelet gives its containers, as a crash would end it.
func killPodProcess(t *testing.T, pod string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), "HOSTNAME="+pod) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline")); !bytes.HasPrefix(cmd, []byte("/echo")) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("killing %s's process %d: %v", pod, pid, err)
		}
		return
	}
	t.Fatalf("no process of pod %s", pod)
}

// checkIngressProblems: an Ingress naming a missing Service and Secret and
// a pattern path gets an Event for each, and the other Ingress is served.
func checkIngressProblems(t *testing.T, cs kubernetes.Interface, srv *harness.Node) {
	t.Helper()
	prefix, pattern := networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific
	backend := func(svc string) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
	}
	broken := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: networkingv1.IngressSpec{
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"broken.example"}, SecretName: "no-such-secret"}},
			Rules: []networkingv1.IngressRule{{Host: "broken.example", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: &prefix, Backend: backend("no-such-service")},
				{Path: "/v(1|2)/.*", PathType: &pattern, Backend: backend("web-a")},
			}}}}},
		},
	}
	if _, err := cs.NetworkingV1().Ingresses("default").Create(context.Background(), broken, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for reason, phrase := range map[string]string{
		"ServiceNotFound": "Service default/no-such-service does not exist",
		"SecretNotFound":  "TLS Secret default/no-such-secret",
		"UnsupportedPath": "looks like a pattern",
	} {
		eventually(t, "an Event "+reason+" on the broken Ingress", func(ctx context.Context) (bool, error) {
			return hasEvent(ctx, cs, "Ingress", "broken", reason, phrase)
		})
	}
	if code, body, _ := viaIngress(srv.IP, "broken.example", "/"); code != http.StatusServiceUnavailable {
		t.Errorf("the missing Service's route: %d %q, want 503", code, body)
	}
	if code, body, err := viaIngress(srv.IP, "a.example", "/still"); code != 200 || !strings.Contains(body, ": /still site-a") {
		t.Errorf("the other Ingress beside a broken one: %d %q %v", code, body, err)
	}
}

// checkPortClaim: a LoadBalancer Service asking for port 80 after the
// Ingress waits, saying the ingress proxy holds the port.
func checkPortClaim(t *testing.T, cs kubernetes.Interface, srv *harness.Node) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "late-lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web-b"},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the later LoadBalancer Service waits for port 80", func(ctx context.Context) (bool, error) {
		return hasEvent(ctx, cs, "Service", "late-lb", "Pending", "in use by the ingress proxy (Ingress default/sites)")
	})
	s, err := cs.CoreV1().Services("default").Get(context.Background(), "late-lb", metav1.GetOptions{})
	if err != nil || len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("the later LoadBalancer Service got addresses: %+v %v", s.Status.LoadBalancer, err)
	}
	if code, body, err := viaIngress(srv.IP, "a.example", "/"); code != 200 {
		t.Errorf("the Ingress after a LoadBalancer Service asked for its port: %d %q %v", code, body, err)
	}
}

func hasEvent(ctx context.Context, cs kubernetes.Interface, kind, name, reason, phrase string) (bool, error) {
	l, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
	if err != nil {
		return false, err
	}
	var seen []string
	for _, e := range l.Items {
		if e.Reason == reason && strings.Contains(e.Message, phrase) {
			return true, nil
		}
		seen = append(seen, e.Reason+": "+e.Message)
	}
	return false, fmt.Errorf("events: %v", seen)
}

// testCert is a self-signed certificate for one name.
type testCert struct {
	crt, key []byte
	cert     *x509.Certificate
}

func newCert(t *testing.T, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCert{
		crt:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		cert: cert,
	}
}

func (c testCert) serial() string { return c.cert.SerialNumber.String() }

func (c testCert) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

func (c testCert) secret(name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: c.crt, corev1.TLSPrivateKeyKey: c.key},
	}
}
