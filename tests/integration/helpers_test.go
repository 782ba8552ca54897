package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// eventually polls cond until it holds. The bound only stops a hung test;
// no test asserts how fast anything happens.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var lastErr error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never happened (last error: %v)", what, lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// expectRefusal checks that a command failed with one clear error line.
func expectRefusal(t *testing.T, what string, r harness.Result, phrase string) {
	t.Helper()
	if r.ExitCode == 0 {
		t.Errorf("%s: exit code 0, want a failure; stderr:\n%s", what, r.Stderr)
		return
	}
	var errLines []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(l, "edgeos: error:") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], phrase) {
		t.Errorf("%s: want one 'edgeos: error:' line mentioning %q, got %q; stderr:\n%s", what, phrase, errLines, r.Stderr)
	}
}

// snapshot hashes every regular file under dir by path (sockets and the
// like have no content to compare).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed or removed %s", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s added %s", what, p)
		}
	}
}

// storedToken reads a server's join token and splits it into its CA hash
// and credential.
func storedToken(t *testing.T, n *harness.Node) (full, hash, cred string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.DataDir, "server/token"))
	if err != nil {
		t.Fatal(err)
	}
	full = strings.TrimSpace(string(b))
	hash, cred, ok := strings.Cut(strings.TrimPrefix(full, "K10"), "::")
	if !ok || !strings.HasPrefix(full, "K10") {
		t.Fatalf("stored token %q is not K10<hash>::<credential>", full)
	}
	return full, hash, cred
}

// nodeRegisters waits until the kubelet of a node has registered it, and
// checks it is the upstream kubelet at the node's address.
func nodeRegisters(t *testing.T, cs kubernetes.Interface, name, ip string) {
	t.Helper()
	var node *corev1.Node
	eventually(t, "node "+name+" registers", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		node = n
		return err == nil, err
	})
	if v := node.Status.NodeInfo.KubeletVersion; v != "v1.37.2" {
		t.Errorf("node %s runs kubelet %q, want v1.37.2", name, v)
	}
	if rt := node.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(rt, "containerd://2.") {
		t.Errorf("node %s runtime %q, want the bundled containerd 2", name, rt)
	}
	found := false
	for _, a := range node.Status.Addresses {
		found = found || (a.Type == corev1.NodeInternalIP && a.Address == ip)
	}
	if !found {
		t.Errorf("node %s addresses %v lack InternalIP %s", name, node.Status.Addresses, ip)
	}
}

// nodeReady waits until a node reports Ready with a heartbeat after since,
// and returns it.
func nodeReady(t *testing.T, cs kubernetes.Interface, name string, since time.Time) *corev1.Node {
	t.Helper()
	var node *corev1.Node
	eventually(t, "node "+name+" is Ready", func(ctx context.Context) (bool, error) {
		got, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = got
		c := readyCondition(got)
		return c != nil && c.Status == corev1.ConditionTrue && c.LastHeartbeatTime.After(since), nil
	})
	return node
}

// readyOf is the pod's Ready condition, nil before it has one.
func readyOf(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// nodeImages lists, sorted, the images in the node's containerd.
func nodeImages(t *testing.T, n *harness.Node) []string {
	t.Helper()
	client, err := containerd.New(n.Path("/run/edgeos/containerd/containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	imgs, err := client.ListImages(namespaces.WithNamespace(context.Background(), "k8s.io"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name())
	}
	slices.Sort(names)
	return names
}
