package harness

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ServerArgs are the arguments of `edgeos server` on n, with extra flags.
func (n *Node) ServerArgs(extra ...string) []string {
	n.c.t.Helper()
	args := append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)
	return append(args, extra...)
}

// AgentArgs are the arguments of `edgeos agent` on n joining server, with
// the server's stored token and extra flags.
func (n *Node) AgentArgs(server *Node, extra ...string) []string {
	n.c.t.Helper()
	tok, err := os.ReadFile(filepath.Join(server.DataDir, "server", "token"))
	if err != nil {
		n.c.t.Fatalf("server %s has no token yet: %v", server.Name, err)
	}
	args := append([]string{"agent", "--server", server.apiURL(), "--token", strings.TrimSpace(string(tok)),
		"--data-dir", n.DataDir}, n.NodeFlags()...)
	return append(args, extra...)
}

// AddImage puts an image archive where the node imports it at start.
func (n *Node) AddImage(name string, archive []byte) {
	n.c.t.Helper()
	dir := filepath.Join(n.DataDir, "agent", "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		n.c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), archive, 0o600); err != nil {
		n.c.t.Fatal(err)
	}
}

// StartCluster starts a server on the node named "server" and agents on
// nodes "agent1"…, each with the given image archives and extra flags, and
// waits until every node is Ready. It returns the nodes, server first, and
// a client.
func (c *Cluster) StartCluster(agents int, images map[string][]byte, flags ...string) ([]*Node, kubernetes.Interface) {
	c.t.Helper()
	return c.StartClusterWith(agents, images, nil, flags...)
}

// StartClusterWith is StartCluster with serverFlags given to the server
// alone.
func (c *Cluster) StartClusterWith(agents int, images map[string][]byte, serverFlags []string, flags ...string) ([]*Node, kubernetes.Interface) {
	c.t.Helper()
	nodes := []*Node{c.AddNode("server")}
	for i := 1; i <= agents; i++ {
		nodes = append(nodes, c.AddNode("agent"+string(rune('0'+i))))
	}
	for _, n := range nodes {
		for name, archive := range images {
			n.AddImage(name, archive)
		}
	}
	srv := nodes[0]
	srv.Start(srv.ServerArgs(append(slices.Clone(serverFlags), flags...)...)...)
	cs := srv.WaitReady()
	for _, n := range nodes[1:] {
		n.Start(n.AgentArgs(srv, flags...)...)
	}
	for _, n := range nodes {
		n.WaitNodeReady(cs)
	}
	return nodes, cs
}

// WaitNodeReady waits until n's Node object is Ready, failing the test if
// its process exits first.
func (n *Node) WaitNodeReady(cs kubernetes.Interface) {
	n.c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		if node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{}); err == nil {
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		select {
		case <-n.exited:
			n.c.t.Fatalf("node %s exited before it was Ready", n.Name)
		case <-ctx.Done():
			n.c.t.Fatalf("node %s not Ready after 5 minutes", n.Name)
		case <-time.After(time.Second):
		}
	}
}
