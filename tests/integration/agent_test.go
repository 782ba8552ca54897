package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAgent joins a second machine with `edgeos agent`: bad tokens are
// refused with clear messages and leave nothing behind; a good one brings up
// the node's runtime; only the server's node has the control-plane role;
// the node starts again from its own credentials while the server is
// down; and when the agent dies, its node is marked so.
func TestAgent(t *testing.T) {
	c := harness.New(t)
	srv := c.AddNode("server")
	ag := c.AddNode("agent")
	srv.Start(append([]string{"server", "--data-dir", srv.DataDir, "--write-kubeconfig", srv.Kubeconfig}, srv.NodeFlags()...)...)
	cs := srv.WaitReady()
	good, hash, cred := storedToken(t, srv)
	agent := func(tok string) []string {
		return append([]string{"agent", "--server", "https://" + srv.IP + ":6443", "--token", tok, "--data-dir", ag.DataDir}, ag.NodeFlags()...)
	}

	expectRefusal(t, "wrong secret", ag.Run(agent("K10"+hash+"::server:wrong")...), "refused the join token")
	expectRefusal(t, "wrong CA hash", ag.Run(agent("K10"+strings.Repeat("0", 64)+"::"+cred)...), "does not match")
	expectRefusal(t, "no server URL", ag.Run("agent", "--token", good, "--data-dir", ag.DataDir), "--server")
	if files, _ := filepath.Glob(filepath.Join(ag.DataDir, "agent", "tls", "*")); len(files) > 0 {
		t.Fatalf("refused joins wrote %v", files)
	}

	ag.Start(agent(good)...)
	ag.WaitLog("edgeos agent is ready")
	client, err := containerd.New(ag.Path("/run/edgeos/containerd/containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), "k8s.io")
	if _, err := client.GetImage(ctx, "edgeos.local/pause:1"); err != nil {
		t.Errorf("the agent's containerd lacks the built-in pause image: %v", err)
	}
	client.Close()
	nodeRegisters(t, cs, srv.Name, srv.IP)
	nodeRegisters(t, cs, ag.Name, ag.IP)
	nodeReady(t, cs, ag.Name, time.Time{})
	// the server's node is the control plane, the agent is not
	eventually(t, "the server's node carries the control-plane role", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, srv.Name, metav1.GetOptions{})
		return err == nil && n.Labels["node-role.kubernetes.io/control-plane"] == "true", err
	})
	if n, err := cs.CoreV1().Nodes().Get(context.Background(), ag.Name, metav1.GetOptions{}); err != nil || n.Labels["node-role.kubernetes.io/control-plane"] != "" {
		t.Errorf("the agent's node: %v %v", n.Labels, err)
	}
	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	checkStopped(t, ag.Log())

	// offline: the server is gone, the node still starts
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code %d", code)
	}
	ag.Start(agent(good)...)
	ag.WaitLog("edgeos agent is ready")
	if !strings.Contains(ag.Log(), "Node credentials found") || !strings.Contains(ag.Log(), "Starting with the cluster settings of the last contact") {
		t.Error("the agent did not start from its own credentials and the settings it kept")
	}

	// the server returns: the agent reconnects by itself
	back := time.Now()
	srv.Start(append([]string{"server", "--data-dir", srv.DataDir, "--write-kubeconfig", srv.Kubeconfig}, srv.NodeFlags()...)...)
	cs = srv.WaitReady()
	eventually(t, "the agent renews its node lease with the returned server", func(ctx context.Context) (bool, error) {
		l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, ag.Name, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(back), nil
	})
	// Ready by a heartbeat posted to the returned server, not the one
	// stored before it went away
	nodeReady(t, cs, ag.Name, back)

	// a node that dies is found out as upstream's defaults would: its Lease
	// is valid for upstream's 40 s, and the controller-manager marks the
	// node's Ready Unknown once the Lease is not renewed
	lease, err := cs.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), ag.Name, metav1.GetOptions{})
	if err != nil || lease.Spec.LeaseDurationSeconds == nil || *lease.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("the agent's node Lease: %v %v, want one valid for 40 s", lease, err)
	}
	ag.Kill()
	killed := time.Now()
	eventually(t, "the killed agent's node is marked Ready Unknown", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, ag.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := readyCondition(n)
		if c == nil || c.Status != corev1.ConditionUnknown {
			return false, nil
		}
		if c.Reason != "NodeStatusUnknown" {
			t.Errorf("Ready Unknown for %q (%s), want the controller-manager's NodeStatusUnknown", c.Reason, c.Message)
		}
		t.Logf("the agent's node Ready Unknown %v after the kill", time.Since(killed).Round(time.Second))
		return true, nil
	})
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code %d", code)
	}
}
