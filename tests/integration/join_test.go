package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestJoin joins against a real server the way a node does, and checks that
// every bad join is refused with a clear reason and writes nothing.
func TestJoin(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("server")
	n.Start(append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)...)
	n.WaitReady()
	good, hash, cred := storedToken(t, n)
	server := "https://" + n.IP + ":6443"
	ctx := context.Background()
	machine := func() string { return t.TempDir() }
	attempt := func(tok, node, dir string) error {
		_, err := join.Join(ctx, join.Config{Server: server, Token: tok, NodeName: node, NodeIPs: []string{"198.18.255.9"}, Dir: dir})
		return err
	}
	refused := func(what, tok, node, dir, phrase string) {
		t.Helper()
		err := attempt(tok, node, dir)
		if err == nil || !strings.Contains(err.Error(), phrase) {
			t.Errorf("%s: error %v, want one saying %q", what, err, phrase)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%s: wrote %d files", what, len(entries))
		}
	}

	// the hash names another CA: a different server, or someone in between
	otherHash := strings.Repeat("0", 64)
	if hash == otherHash {
		t.Fatal("test needs a CA hash other than all zeros")
	}
	refused("wrong CA hash", "K10"+otherHash+"::"+cred, "agent1", machine(), "does not match")
	refused("token without CA hash", cred, "agent1", machine(), "carries no CA hash")
	refused("wrong secret", "K10"+hash+"::server:not-the-secret", "agent1", machine(), "refused the join token")

	first := machine()
	nc, err := join.Join(ctx, join.Config{Server: server, Token: good, NodeName: "agent1", NodeIPs: []string{"198.18.255.9"}, Dir: first})
	if err != nil {
		t.Fatalf("join with the server token: %v", err)
	}
	if nc.ClusterDNS != "10.43.0.10" || nc.ClusterCIDR != "10.42.0.0/16" {
		t.Errorf("node config %+v", nc)
	}
	for _, f := range []string{join.ClientKeyFile, join.ServingKeyFile, join.NodePasswordFile} {
		st, err := os.Stat(filepath.Join(first, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
	}

	// another machine cannot take the name; the first one can come back
	refused("second machine under agent1", good, "agent1", machine(), "belongs to another machine")
	if err := attempt(good, "agent1", first); err != nil {
		t.Errorf("the first machine rejoining: %v", err)
	}

	// the certificate is a node identity the apiserver accepts, and
	// NodeRestriction keeps it to its own Node object
	rc := &rest.Config{Host: server, TLSClientConfig: rest.TLSClientConfig{
		CAFile: filepath.Join(first, join.ServerCAFile), CertFile: filepath.Join(first, join.ClientCertFile), KeyFile: filepath.Join(first, join.ClientKeyFile),
	}}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "agent1"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("node agent1 creating its own Node: %v", err)
	}
	_, err = cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("node agent1 creating another node's object: %v, want Forbidden", err)
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
