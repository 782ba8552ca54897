package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// TestHA runs two servers on one PostgreSQL and an agent. The second
// server needs only the endpoint and the token to serve the same cluster;
// a wrong token is refused and changes nothing. The agent learns both
// servers; started while both are down, it comes up through the one that
// returns first, which it never talked to. Each server in turn is killed:
// the API answers through the other, the agent's node stays Ready through
// it, new pods are scheduled and run, a Service keeps answering, edgeos's
// controllers run on the other server, and the killed server comes back.
// A server whose Leases are taken from it (as a renewal too late on a
// loaded machine loses them) stops the controller-manager, the scheduler
// and edgeos's controllers, goes on serving, and runs them again once it
// holds the Leases again.
func TestHA(t *testing.T) {
	c := harness.New(t)
	db := c.AddNode("db")
	endpoint := startPostgres(t, db, db.IP)
	versions := func() string {
		t.Helper()
		r := db.Shell(`psql -h ` + db.IP + ` -U postgres -d edgeos -tAc "select count(*) from kine where name = '/edgeos/cluster-keys'"`)
		if r.ExitCode != 0 {
			t.Fatalf("psql: %+v", r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	runHA(t, c, endpoint, versions)
}

// TestHAEtcd is TestHA with etcd as the datastore.
func TestHAEtcd(t *testing.T) {
	c := harness.New(t)
	db := c.AddNode("db")
	endpoint := startEtcd(t, db)
	versions := func() string {
		t.Helper()
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		r, err := cli.Get(context.Background(), "/edgeos/cluster-keys")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Kvs) == 0 {
			return "0"
		}
		return strconv.FormatInt(r.Kvs[0].Version, 10)
	}
	runHA(t, c, endpoint, versions)
}

// runHA is TestHA on the datastore at endpoint; versions counts the
// versions of the cluster's keys stored there.
func runHA(t *testing.T, c *harness.Cluster, endpoint string, versions func() string) {
	s1, s2, s3, ag := c.AddNode("server1"), c.AddNode("server2"), c.AddNode("server3"), c.AddNode("agent")
	ag.AddImage("echo.tar", images.Build(t, "echo"))
	var tok string
	start := func(n *harness.Node) kubernetes.Interface {
		t.Helper()
		// the scheduler's own election flags apply to the election edgeos runs
		args := []string{"--disable-agent", "--datastore-endpoint", endpoint, "--kube-scheduler-arg", "leader-elect-lease-duration=20s"}
		if n == s2 {
			args = append(args, "--token", tok)
		}
		n.Start(n.ServerArgs(args...)...)
		return n.WaitReady()
	}
	s1.Start(s1.ServerArgs("--disable-agent", "--datastore-endpoint", endpoint)...)
	cs1 := s1.WaitReady()
	tok, _, _ = storedToken(t, s1)
	checkSecondServer(t, s1, s2, cs1, endpoint, tok, versions)

	// the agent joins server1 and learns both
	ag.Start(ag.AgentArgs(s1)...)
	nodeReady(t, cs1, ag.Name, time.Time{})
	kept := filepath.Join(ag.DataDir, "agent", "etc", "api-servers.json")
	eventually(t, "the agent keeps both servers", func(context.Context) (bool, error) {
		b, err := os.ReadFile(kept)
		return err == nil && strings.Contains(string(b), s1.IP+":6443") && strings.Contains(string(b), s2.IP+":6443"), fmt.Errorf("%s: %v", b, err)
	})
	startWeb(t, cs1, "before", 8081)
	serviceAnswers(t, cs1, ag)

	// both servers down, the agent restarts, server2 returns first
	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	for _, n := range []*harness.Node{s1, s2} {
		if code := n.Stop(); code != 0 {
			t.Errorf("%s exit code %d after SIGTERM", n.Name, code)
		}
	}
	ag.Start(ag.AgentArgs(s1)...)
	back := time.Now()
	cs2 := start(s2)
	nodeReady(t, cs2, ag.Name, back)
	serviceAnswers(t, cs2, ag)
	start(s1) // without --token: from what it kept

	for _, tc := range []struct {
		down, up *harness.Node
		lbPort   int32
	}{{s1, s2, 8082}, {s2, s1, 8083}} {
		down, up := tc.down, tc.up
		killed := time.Now()
		down.Kill()
		cs := up.WaitReady()
		eventually(t, up.Name+" runs edgeos's controllers", func(ctx context.Context) (bool, error) {
			return holds(ctx, cs, up.Name)
		})
		eventually(t, "the agent renews its node lease through "+up.Name, func(ctx context.Context) (bool, error) {
			l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, ag.Name, metav1.GetOptions{})
			return err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(killed), err
		})
		if down == s1 {
			loseLeases(t, cs, up)
			l, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
			if err != nil || ptr.Deref(l.Spec.LeaseDurationSeconds, 0) != 20 {
				t.Errorf("the scheduler's Lease, held by %s, started with leader-elect-lease-duration=20s: %v, %v", up.Name, l, err)
			}
		}
		startWeb(t, cs, "after-"+down.Name, tc.lbPort) // its LoadBalancer address: from the servicelb on up
		serviceAnswers(t, cs, ag)
		if c := readyCondition(nodeReady(t, cs, ag.Name, time.Time{})); c.LastTransitionTime.After(killed) {
			t.Errorf("the agent's node changed to Ready at %v, after %s was killed: it was not Ready throughout", c.LastTransitionTime, down.Name)
		}
		start(down)
		// the returning server leaves the controllers where they are
		if ok, err := holds(context.Background(), cs, up.Name); !ok {
			t.Errorf("%s took edgeos's controllers back from %s (%v)", down.Name, up.Name, err)
		}
	}

	// a third server, given only the endpoint and the token
	s3.Start(s3.ServerArgs("--disable-agent", "--datastore-endpoint", endpoint, "--token", tok)...)
	cs3 := s3.WaitReady()
	if !bytes.Equal(readFile(t, filepath.Join(s1.DataDir, "server", "tls", "server-ca.crt")), readFile(t, filepath.Join(s3.DataDir, "server", "tls", "server-ca.crt"))) {
		t.Error("server3's CA differs from server1's")
	}
	nodeReady(t, cs3, ag.Name, time.Time{})
	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	for _, n := range []*harness.Node{s1, s2, s3} {
		if code := n.Stop(); code != 0 {
			t.Errorf("%s exit code %d after SIGTERM", n.Name, code)
		}
	}
}

// checkSecondServer: a wrong token is refused with the reason and writes
// nothing; the token makes server2 serve server1's cluster: the same CAs
// and keys (the Secret server1 encrypted reads through server2), its own
// serving certificate. The cluster's keys are stored once.
func checkSecondServer(t *testing.T, s1, s2 *harness.Node, cs1 kubernetes.Interface, endpoint, tok string, versions func() string) {
	t.Helper()
	stored := versions
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "default"}, Data: map[string][]byte{"k": []byte("written through server1")}}
	if _, err := cs1.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != "1" {
		t.Fatalf("%s versions of the cluster's keys in the datastore after the first server, want 1", got)
	}

	s2.Start(s2.ServerArgs("--disable-agent", "--datastore-endpoint", endpoint, "--token", "not-this-clusters-token")...)
	if code := s2.Wait(); code == 0 {
		t.Fatal("a server with a wrong token exited 0")
	}
	if !strings.Contains(s2.Log(), "does not open the cluster's keys") {
		t.Errorf("the wrong token's refusal does not say why:\n%s", s2.Log())
	}
	for _, f := range []string{"tls/server-ca.crt", "tls/server-ca.key", "token"} {
		if _, err := os.Stat(filepath.Join(s2.DataDir, "server", f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the refused server wrote %s (%v)", f, err)
		}
	}
	if got := stored(); got != "1" {
		t.Errorf("%s versions of the cluster's keys after the refused server, want 1", got)
	}

	s2.Start(s2.ServerArgs("--disable-agent", "--datastore-endpoint", endpoint, "--token", tok)...)
	cs2 := s2.WaitReady() // by server2's own address, verified with the CA it took
	for _, f := range []string{"tls/server-ca.crt", "tls/client-ca.key", "tls/kubelet-ca.key", "tls/service-account.key", "token"} {
		if !bytes.Equal(readFile(t, filepath.Join(s1.DataDir, "server", f)), readFile(t, filepath.Join(s2.DataDir, "server", f))) {
			t.Errorf("server2's %s differs from server1's", f)
		}
	}
	got, err := cs2.CoreV1().Secrets("default").Get(ctx, "shared", metav1.GetOptions{})
	if err != nil || string(got.Data["k"]) != "written through server1" {
		t.Fatalf("server2 reads the Secret server1 encrypted as %v, %v", got, err)
	}
	// server1's admin credentials are good at server2: one client CA
	rc := s1.RESTConfig()
	rc.Host = "https://" + s2.IP + ":6443"
	if _, err := kubernetes.NewForConfigOrDie(rc).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("server1's admin at server2: %v", err)
	}
	serving, err := pki.ParseCert(readFile(t, filepath.Join(s2.DataDir, "server", "tls", "serving-kube-apiserver.crt")))
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, ip := range serving.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Contains(ips, s2.IP) || slices.Contains(ips, s1.IP) {
		t.Errorf("server2's serving certificate names %v", ips)
	}
	if got := stored(); got != "1" {
		t.Errorf("%s versions of the cluster's keys after the second server, want 1", got)
	}
}

// holds reports whether server holds the Lease of edgeos's controllers.
func holds(ctx context.Context, cs kubernetes.Interface, server string) (bool, error) {
	return holdsLease(ctx, cs, "edgeos-controllers", server)
}

func holdsLease(ctx context.Context, cs kubernetes.Interface, lease, server string) (bool, error) {
	l, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != server {
		return false, fmt.Errorf("%s held by %v", lease, ptr.Deref(l.Spec.HolderIdentity, "nobody"))
	}
	return true, nil
}

// electedLeases are held by the server that runs the controller-manager,
// the scheduler and edgeos's controllers.
var electedLeases = []string{"kube-controller-manager", "kube-scheduler", "edgeos-controllers"}

// loseLeases takes the elected Leases from server, the only one running,
// renewing them as another holder until server has ended its three terms,
// then gives them up. server must not exit, and must hold them again.
func loseLeases(t *testing.T, cs kubernetes.Interface, server *harness.Node) {
	t.Helper()
	for _, l := range electedLeases {
		eventually(t, server.Name+" holds "+l, func(ctx context.Context) (bool, error) { return holdsLease(ctx, cs, l, server.Name) })
	}
	const thief = "edgeos-test-thief"
	ended := func() int { return strings.Count(server.Log(), "This server no longer leads") }
	before := ended()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for range 300 { // bounded: about five minutes at most
			for _, l := range electedLeases {
				_ = setHolder(cs, l, thief)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	stopThief := sync.OnceFunc(func() { close(stop); <-stopped })
	defer stopThief() // also when the test fails on the way
	eventually(t, server.Name+" ends its terms once its Leases are taken", func(context.Context) (bool, error) {
		if !server.Running() {
			t.Fatalf("%s exited when its Leases were taken", server.Name)
		}
		n := ended() - before
		return n >= len(electedLeases), fmt.Errorf("%d of %d terms ended", n, len(electedLeases))
	})
	stopThief()
	for _, l := range electedLeases {
		eventually(t, "the thief gives up "+l, func(context.Context) (bool, error) {
			err := setHolder(cs, l, "")
			return err == nil, err
		})
		eventually(t, server.Name+" holds "+l+" again", func(ctx context.Context) (bool, error) { return holdsLease(ctx, cs, l, server.Name) })
	}
}

// setHolder writes holder into a Lease as a freshly renewed one; ""
// leaves it free.
func setHolder(cs kubernetes.Interface, lease, holder string) error {
	ctx := context.Background()
	l, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.NewMicroTime(time.Now())
	l.Spec.HolderIdentity, l.Spec.RenewTime, l.Spec.AcquireTime = &holder, &now, &now
	_, err = cs.CoordinationV1().Leases("kube-system").Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// startWeb creates a Deployment of one echo pod and its LoadBalancer
// Service on lbPort, and waits until the pod runs and the Service has its
// address.
func startWeb(t *testing.T, cs kubernetes.Interface, name string, lbPort int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "edgeos.test/echo:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels,
			Ports: []corev1.ServicePort{{Port: lbPort, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod of "+name+" runs", func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		return err == nil && len(l.Items) == 1 && podReady(l.Items[0]), err
	})
	eventually(t, "the LoadBalancer "+name+" gets its address", func(ctx context.Context) (bool, error) {
		s, err := cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && len(s.Status.LoadBalancer.Ingress) > 0, err
	})
}

// serviceAnswers waits until the LoadBalancer Service "before" answers at
// the node's address, through the node's kube-proxy. (The harness's nodes
// have no default route, so a ClusterIP cannot be reached from a node
// itself: the route lookup fails before kube-proxy's rules are consulted.)
func serviceAnswers(t *testing.T, cs kubernetes.Interface, n *harness.Node) {
	t.Helper()
	url := "http://" + n.IP + ":8081/ha"
	eventually(t, "the Service before answers at "+url, func(ctx context.Context) (bool, error) {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "/ha") {
				return true, nil
			}
			err = fmt.Errorf("answered %q", body)
		}
		var ready []string
		if l, lerr := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=before"}); lerr == nil {
			for _, s := range l.Items {
				for _, e := range s.Endpoints {
					ready = append(ready, fmt.Sprintf("%v ready=%v", e.Addresses, e.Conditions.Ready != nil && *e.Conditions.Ready))
				}
			}
		}
		return false, fmt.Errorf("%v; endpoints %v", err, ready)
	})
}

// startEtcd runs a one-member etcd (Debian's etcd-server) in node n's
// namespace until the test ends, and returns its client URL.
func startEtcd(t *testing.T, n *harness.Node) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd not installed (scripts/test-deps.sh installs Debian's etcd-server)")
	}
	client, peer := "http://"+n.IP+":2379", "http://127.0.0.1:2380"
	n.Background(bin, "--name", "harness", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "harness="+peer)
	return client
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
