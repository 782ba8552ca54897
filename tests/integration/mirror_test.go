package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEmbeddedRegistry: on a 3-node cluster with --embedded-registry, an
// image held by the server's node only, from a registry that resolves
// nowhere (registries.yaml mirrors it, with no endpoint), runs in a pod on
// the last agent: pulled from a peer, as the server's log and metrics
// show. A machine outside the cluster cannot pull from a node's mirror;
// a node's own client certificate can. The agents joined before the
// server was given the flag: they learn it at their next start.
func TestEmbeddedRegistry(t *testing.T) {
	c := harness.New(t)
	regFile := filepath.Join(t.TempDir(), "registries.yaml")
	write(t, regFile, []byte("mirrors:\n  registry.edgeos.test: {}\n"))
	nodes, _ := c.StartCluster(2, nil, "--private-registry", regFile)
	srv, a1, a2 := nodes[0], nodes[1], nodes[2]
	outsider := c.AddNode("outsider")
	const image = "registry.edgeos.test/apps/echo:1"
	srv.AddImage("echo.tar", images.BuildAs(t, "echo", image))

	for _, n := range []*harness.Node{a1, a2, srv} {
		if code := n.Stop(); code != 0 {
			t.Fatalf("%s exit code %d", n.Name, code)
		}
	}
	srv.Start(srv.ServerArgs("--private-registry", regFile, "--embedded-registry")...)
	cs := srv.WaitReady()
	for _, n := range []*harness.Node{a1, a2} {
		n.Start(n.AgentArgs(srv, "--private-registry", regFile)...)
	}
	for _, n := range nodes {
		n.WaitNodeReady(cs)
	}
	// the last agent lists both other nodes before it pulls
	a2.WaitLog("Registry mirror: 2 peers")

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "from-a-peer"},
		Spec: corev1.PodSpec{
			NodeName:   a2.Name,
			Containers: []corev1.Container{{Name: "echo", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod on the last agent runs the image only the server's node held", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	if !strings.Contains(srv.Log(), "Registry mirror: served registry.edgeos.test/apps/echo@sha256:") || !strings.Contains(srv.Log(), "to node "+a2.Name) {
		t.Errorf("the server's log does not say it served the image to %s", a2.Name)
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `edgeos_registry_mirror_requests_total{kind="blob",result="served"}`) {
		t.Errorf("the server's metrics count no blob served:\n%s", grepLines(string(raw), "edgeos_registry_mirror"))
	}

	// outside the cluster: no client certificate, or one of another CA;
	// inside: a node's own
	url := fmt.Sprintf("https://%s:5001/v2/apps/echo/manifests/1?ns=registry.edgeos.test", srv.IP)
	tls := filepath.Join(a1.DataDir, "agent", "tls")
	stranger := filepath.Join(t.TempDir(), "stranger")
	strangerCA, err := pki.EnsureCA(filepath.Dir(stranger), "ca", "stranger-ca")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strangerCA.EnsureLeaf(stranger+".crt", stranger+".key", pki.Leaf{CommonName: "system:node:" + a1.Name, Organization: []string{"system:nodes"}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for what, args := range map[string]string{
		"no client certificate":       "",
		"a certificate of another CA": fmt.Sprintf("--cert %[1]s.crt --key %[1]s.key", stranger),
		"the node's serving identity": fmt.Sprintf("--cert %[1]s/kubelet-serving.crt --key %[1]s/kubelet-serving.key", tls),
	} {
		r := outsider.Shell(fmt.Sprintf("curl -sS --max-time 10 --cacert %s/kubelet-ca.crt %s -o /dev/null -w '%%{http_code}' %s", tls, args, url))
		if r.ExitCode == 0 {
			t.Errorf("with %s a machine outside the cluster pulled from a node's mirror: %+v", what, r)
		}
	}
	r := outsider.Shell(fmt.Sprintf("curl -sS --max-time 10 --cacert %[1]s/kubelet-ca.crt --cert %[1]s/kubelet-client.crt --key %[1]s/kubelet-client.key -o /dev/null -w '%%{http_code}' %[2]s", tls, url))
	if r.ExitCode != 0 || r.Stdout != "200" {
		t.Errorf("a node's own client certificate was refused: %+v", r)
	}
}

// grepLines are the lines of s holding sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
