package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClusterDNS asks the built-in cluster DNS from inside a pod on an
// agent: short, namespaced and full Service names, a headless Service's
// endpoints, a StatefulSet pod's own name, SRV, an ExternalName through the
// harness's fake upstream, NXDOMAIN for a missing Service. With the server
// stopped, the agent still answers for existing Services. The node holds no
// image beyond the pause and test images.
func TestClusterDNS(t *testing.T) {
	c := harness.New(t)
	resolv := c.FakeUpstream(map[string]string{"external.test": "192.0.2.80", "outside.test": "192.0.2.81"})
	nodes, cs := c.StartCluster(1, map[string][]byte{"echo.tar": images.Build(t, "echo")}, "--resolv-conf", resolv)
	srv, ag := nodes[0], nodes[1]
	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/dns.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	ctx := context.Background()
	eventually(t, "the client and both StatefulSet pods run, the latter ready", func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && (p.Name == "client" || strings.HasPrefix(p.Name, "db-") && podReady(p)) {
				ready++
			}
		}
		return ready == 3, nil
	})
	web, err := cs.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbIPs := map[string]string{}
	for _, name := range []string{"db-0", "db-1"} {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dbIPs[name] = p.Status.PodIP
	}

	ask := func(qtype, name string) string {
		r := srv.Run("kubectl", "exec", "client", "--", "/echo", "dns", qtype, name)
		return r.Stdout + r.Stderr
	}
	for _, name := range []string{"web", "web.default", "web.default.svc.cluster.local"} {
		if got := ask("A", name); !strings.Contains(got, "rcode NOERROR") || !strings.Contains(got, "\tA\t"+web.Spec.ClusterIP) {
			t.Errorf("A %s: %q, want %s", name, got, web.Spec.ClusterIP)
		}
	}
	eventually(t, "the headless Service resolves to both ready endpoints", func(context.Context) (bool, error) {
		got := ask("A", "db.default.svc.cluster.local")
		return strings.Contains(got, "\tA\t"+dbIPs["db-0"]) && strings.Contains(got, "\tA\t"+dbIPs["db-1"]), fmt.Errorf("%q", got)
	})
	if got := ask("A", "db-0.db.default.svc.cluster.local"); !strings.Contains(got, "\tA\t"+dbIPs["db-0"]) || strings.Contains(got, dbIPs["db-1"]) {
		t.Errorf("db-0.db: %q, want %s only", got, dbIPs["db-0"])
	}
	if got := ask("SRV", "_http._tcp.web.default.svc.cluster.local"); !strings.Contains(got, "SRV\t0 100 80 web.default.svc.cluster.local.") {
		t.Errorf("SRV: %q", got)
	}
	if got := ask("A", "ext.default.svc.cluster.local"); !strings.Contains(got, "CNAME\texternal.test.") || !strings.Contains(got, "\tA\t192.0.2.80") {
		t.Errorf("ExternalName: %q", got)
	}
	if got := ask("A", "outside.test"); !strings.Contains(got, "\tA\t192.0.2.81") {
		t.Errorf("a name outside the cluster, through the upstream: %q", got)
	}
	if got := ask("A", "missing.default.svc.cluster.local."); !strings.Contains(got, "rcode NXDOMAIN") {
		t.Errorf("missing Service: %q", got)
	}
	if got := ask("AAAA", "web.default.svc.cluster.local."); !strings.Contains(got, "rcode NOERROR") || strings.Contains(got, "AAAA\t") {
		t.Errorf("AAAA of an IPv4 Service (NODATA): %q", got)
	}

	// the server goes away; the agent still answers for what it knows, asked
	// from inside the client's network namespace (exec needs the API)
	client, err := cs.CoreV1().Pods("default").Get(ctx, "client", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code %d", code)
	}
	echo := images.Program(t, "echo")
	found := ag.Shell(`for n in /run/netns/cni-*; do ip -n "$(basename "$n")" -4 addr | grep -q "inet ` + client.Status.PodIP + `/" && echo "$n"; done`)
	netns := strings.TrimSpace(found.Stdout)
	if netns == "" {
		t.Fatalf("cannot find the client pod's network namespace: %q", found.Stderr)
	}
	r := ag.Shell("nsenter --net=" + netns + " " + echo + " dns A web.default.svc.cluster.local. 10.43.0.10")
	if !strings.Contains(r.Stdout, "\tA\t"+web.Spec.ClusterIP) {
		t.Errorf("with the server stopped: %q %q", r.Stdout, r.Stderr)
	}
	if got := nodeImages(t, ag); !slices.Equal(got, []string{"edgeos.local/pause:1", "edgeos.test/echo:1"}) {
		t.Errorf("images on %s: %v; anything beyond the built-in and test images came from elsewhere", ag.Name, got)
	}
	ag.Stop()
}

func podReady(p corev1.Pod) bool {
	c := readyOf(&p)
	return c != nil && c.Status == corev1.ConditionTrue
}
