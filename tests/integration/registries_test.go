package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestPrivateRegistry: a pod on an agent pulls its image from a registry
// inside the harness (TLS with a CA of its own, basic auth) through
// registries.yaml: the image's registry name resolves nowhere, so only the
// mirror leads to it, and only the file's CA and credentials open it. A
// second registry given the wrong password in the file makes the pod's
// Event say unauthorized. The passwords appear nowhere in the nodes' logs
// (with --debug, where containerd logs every request), and the rendered
// files are root's only. A mirror with a repository rewrite (k3s's
// `rewrite`) is reached through edgeos's proxy, which asks the registry for
// the rewritten repository, with the same CA and credentials; the proxy's
// secret stays out of the logs too. A malformed file refuses the start
// with its line.
func TestPrivateRegistry(t *testing.T) {
	c := harness.New(t)
	password, wrong := secret(t), secret(t)
	good := c.StartRegistry(5443, "fleet", password)
	bad := c.StartRegistry(5444, "fleet", secret(t))
	if err := good.Push(images.BuildAs(t, "echo", "edgeos.test/echo:1"), "1", "apps/echo", "1"); err != nil {
		t.Fatalf("pushing the test image to the harness registry: %v", err)
	}
	// only under the rewritten name
	if err := good.Push(images.BuildAs(t, "echo", "edgeos.test/echo:1"), "1", "mirrorproject/echo", "2"); err != nil {
		t.Fatalf("pushing the test image to the harness registry: %v", err)
	}

	dir := t.TempDir()
	regFile := filepath.Join(dir, "registries.yaml")
	write(t, regFile, []byte(fmt.Sprintf(`mirrors:
  registry.edgeos.test:
    endpoint:
      - "https://%[1]s"
  locked.edgeos.test:
    endpoint:
      - "https://%[3]s"
  rewritten.edgeos.test:
    endpoint:
      - "https://%[1]s"
    rewrite:
      "^apps/(.*)": "mirrorproject/$1"
configs:
  "%[1]s":
    auth:
      username: fleet
      password: %[2]q
    tls:
      ca_file: %[5]q
  "%[3]s":
    auth:
      username: fleet
      password: %[4]q
    tls:
      ca_file: %[6]q
`, good.Addr, password, bad.Addr, wrong, good.CAFile, bad.CAFile)))

	malformed := filepath.Join(dir, "malformed.yaml")
	write(t, malformed, []byte("mirrors:\n  registry.edgeos.test:\n    endpoints:\n      - https://"+good.Addr+"\n"))
	probe := c.AddNode("probe")
	r := probe.Run(append([]string{"agent", "--server", "https://" + c.HostIP() + ":6443", "--token", "x", "--data-dir", probe.DataDir,
		"--private-registry", malformed}, probe.NodeFlags()...)...)
	expectRefusal(t, "a malformed registries.yaml", r, "line 3: unknown key endpoints")

	nodes, cs := c.StartCluster(1, nil, "--private-registry", regFile, "--debug")
	agent := nodes[1]

	pull := func(name, image string) {
		t.Helper()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				NodeName:   agent.Name,
				Containers: []corev1.Container{{Name: "echo", Image: image, ImagePullPolicy: corev1.PullAlways}},
			},
		}
		if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pull("mirrored", "registry.edgeos.test/apps/echo:1")
	eventually(t, "the pod pulled through the mirror runs", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "mirrored", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})

	pull("rewritten", "rewritten.edgeos.test/apps/echo:2")
	eventually(t, "the pod pulled through a rewrite runs", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "rewritten", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})

	pull("locked", "locked.edgeos.test/apps/echo:1")
	var said string
	eventually(t, "the pod with wrong credentials reports unauthorized", func(ctx context.Context) (bool, error) {
		said = podEvents(ctx, t, cs, "locked")
		return strings.Contains(strings.ToLower(said), "unauthorized"), nil
	})

	hosts, err := os.ReadFile(filepath.Join(agent.DataDir, "agent/etc/containerd/certs.d/rewritten.edgeos.test/hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	_, proxySecret, _ := strings.Cut(string(hosts), `Authorization = "Bearer `)
	proxySecret, _, _ = strings.Cut(proxySecret, `"`)
	if len(proxySecret) < 32 {
		t.Fatalf("no proxy secret in the agent's hosts.toml:\n%s", hosts)
	}
	for _, n := range nodes {
		log := n.Log()
		for _, s := range []string{password, wrong, base64.StdEncoding.EncodeToString([]byte("fleet:" + password)), proxySecret} {
			if strings.Contains(log, s) {
				t.Errorf("%s's log holds a registry credential", n.Name)
			}
		}
		for _, f := range []string{"agent/etc/containerd/config.toml", "agent/etc/containerd/certs.d/registry.edgeos.test/hosts.toml"} {
			st, err := os.Stat(filepath.Join(n.DataDir, f))
			if err != nil {
				t.Errorf("%s: %v", n.Name, err)
			} else if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s mode %v, want 0600", n.Name, f, st.Mode().Perm())
			}
		}
	}
	if strings.Contains(said, password) || strings.Contains(said, wrong) {
		t.Error("an Event holds a registry credential")
	}
}

// secret is a random password.
func secret(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// podEvents are the messages of the Events about a pod in default.
func podEvents(ctx context.Context, t *testing.T, cs kubernetes.Interface, pod string) string {
	evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		t.Logf("listing events: %v", err)
		return ""
	}
	var msgs []string
	for _, e := range evs.Items {
		msgs = append(msgs, e.Reason+": "+e.Message)
	}
	return strings.Join(msgs, "\n")
}
