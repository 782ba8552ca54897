package integration

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPods runs real pods on a single-node server: the node becomes Ready,
// a Deployment's pod runs with its ConfigMap and Secret, gets an address
// from the node's podCIDR and serves it, logs and exec work, and a Job
// completes. No image is pulled: the node holds the pause image and the
// test image only.
func TestPods(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("node")
	dir := filepath.Join(n.DataDir, "agent", "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "echo.tar"), images.Build(t, "echo"))
	n.Start(append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)...)
	cs := n.WaitReady()

	var node *corev1.Node
	eventually(t, "the node becomes Ready", func(ctx context.Context) (bool, error) {
		got, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = got
		for _, cond := range got.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	_, podNet, err := net.ParseCIDR(node.Spec.PodCIDR)
	if err != nil {
		t.Fatalf("node podCIDR %q: %v", node.Spec.PodCIDR, err)
	}

	if r := n.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/pods.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	var pod corev1.Pod
	eventually(t, "the Deployment's pod runs", func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil || len(l.Items) != 1 || l.Items[0].Status.Phase != corev1.PodRunning {
			return false, err
		}
		pod = l.Items[0]
		return true, nil
	})
	if !podNet.Contains(net.ParseIP(pod.Status.PodIP)) {
		t.Errorf("pod IP %s is outside the node's podCIDR %s", pod.Status.PodIP, podNet)
	}

	for _, probe := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "deploy/echo"}, "echo listening on :8080"},
		{[]string{"exec", "deploy/echo", "--", "/echo", "env", "MESSAGE"}, "hello"},
		{[]string{"exec", "deploy/echo", "--", "/echo", "env", "PASSWORD"}, "s3cret"},
		{[]string{"exec", "deploy/echo", "--", "/echo", "cat", "/etc/settings/greeting"}, "hello"},
	} {
		r := n.Run(append([]string{"kubectl"}, probe.args...)...)
		if r.ExitCode != 0 || !strings.Contains(r.Stdout, probe.want) {
			t.Errorf("kubectl %s: %q %q, want %q", strings.Join(probe.args, " "), r.Stdout, r.Stderr, probe.want)
		}
	}
	if r := n.Shell("curl -s --max-time 5 http://" + pod.Status.PodIP + ":8080/from-node"); !strings.Contains(r.Stdout, "/from-node hello") {
		t.Errorf("the pod does not answer at its address from the node: %q %q", r.Stdout, r.Stderr)
	}

	eventually(t, "the Job completes", func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1, err
	})

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
	if !slices.Equal(names, []string{"edgeos.local/pause:1", "edgeos.test/echo:1"}) {
		t.Errorf("images on the node: %v; anything beyond the built-in and test images was pulled", names)
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
