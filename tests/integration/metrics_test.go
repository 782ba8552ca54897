package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestResourceMetrics runs kubectl top and an autoscaler on a two-node
// cluster: both nodes and pods on both are listed with their usage; the
// API refuses a client without credentials; an HPA scales a burning
// Deployment up to its maximum and back to one when the burning stops; a
// node whose kubelet is gone drops out while the other is still listed;
// and --disable metrics takes the API away.
func TestResourceMetrics(t *testing.T) {
	c := harness.New(t)
	srv, ag := c.AddNode("server"), c.AddNode("agent1")
	for _, n := range []*harness.Node{srv, ag} {
		n.AddImage("echo.tar", images.Build(t, "echo"))
		n.AddImage("burn.tar", images.Build(t, "burn"))
	}
	// faster than the default 15 s, so that the test waits less
	srv.Start(srv.ServerArgs("--metrics-resolution", "5s")...)
	cs := srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	srv.WaitNodeReady(cs)
	ag.WaitNodeReady(cs)

	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/autoscale.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	for _, n := range []*harness.Node{srv, ag} {
		runPodOn(t, cs, "top", "echo-"+n.Name, n.Name)
	}

	eventually(t, "kubectl top nodes lists both nodes with CPU and memory in use", func(context.Context) (bool, error) {
		rows, err := topRows(srv, "nodes")
		if err != nil {
			return false, err
		}
		for _, n := range []string{srv.Name, ag.Name} {
			row, ok := rows[n]
			if !ok || len(row) < 4 || !positive(row[1]) || !positive(row[3]) {
				return false, fmt.Errorf("rows %v", rows)
			}
		}
		return true, nil
	})
	eventually(t, "kubectl top pods lists the pods of both nodes, by container", func(context.Context) (bool, error) {
		rows, err := topRows(srv, "pods", "-A", "--containers")
		if err != nil {
			return false, err
		}
		// NAMESPACE POD NAME CPU MEMORY, keyed by namespace
		for _, n := range []string{srv.Name, ag.Name} {
			found := false
			for _, row := range rows["top"+"/"+"echo-"+n] {
				found = found || row == "echo"
			}
			if !found {
				return false, fmt.Errorf("rows %v", rows)
			}
		}
		return true, nil
	})

	// no credentials, no metrics
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Get("https://" + srv.IP + ":6443/apis/metrics.k8s.io/v1beta1/nodes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("metrics without credentials: %s, want 401", resp.Status)
	}

	checkAutoscaling(t, cs, srv)

	// the agent's kubelet goes away: the server's node is still listed
	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	eventually(t, "kubectl top nodes answers for the server's node, the agent's without figures", func(context.Context) (bool, error) {
		rows, err := topRows(srv, "nodes")
		if err != nil {
			return false, err
		}
		// kubectl lists every Node, with <unknown> where it got no metrics
		server, agent := rows[srv.Name], rows[ag.Name]
		ok := len(server) >= 4 && positive(server[1]) && (agent == nil || agent[1] == "<unknown>")
		return ok, fmt.Errorf("rows %v", rows)
	})
	if !strings.Contains(srv.Log(), "node "+ag.Name+" left out until its kubelet answers") {
		t.Error("no log line for the node that dropped out")
	}

	// metrics off: the API is gone, and kubectl says so
	if code := srv.Stop(); code != 0 {
		t.Fatalf("server exit code %d", code)
	}
	checkStopped(t, srv.Log())
	srv.Start(srv.ServerArgs("--disable", "metrics")...)
	cs = srv.WaitReady()
	srv.WaitLog("edgeos server is ready")
	eventually(t, "with --disable metrics, metrics.k8s.io is gone", func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1")
		return err != nil, nil
	})
	if r := srv.Run("kubectl", "top", "nodes"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Metrics API not available") {
		t.Errorf("kubectl top nodes with metrics off: %d %q %q", r.ExitCode, r.Stdout, r.Stderr)
	}
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code %d", code)
	}
	checkStopped(t, srv.Log())
}

// checkAutoscaling waits for the HPA of autoscale.yaml to scale its
// burning Deployment to the maximum, stops the burning and waits for one
// replica again.
func checkAutoscaling(t *testing.T, cs kubernetes.Interface, srv *harness.Node) {
	t.Helper()
	replicas := func(ctx context.Context) (int32, error) {
		d, err := cs.AppsV1().Deployments("top").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		return *d.Spec.Replicas, nil
	}
	eventually(t, "the autoscaler scales the burning Deployment to 3", func(ctx context.Context) (bool, error) {
		n, err := replicas(ctx)
		return n == 3, fmt.Errorf("%d replicas, %v; %s", n, err, hpaState(ctx, cs))
	})
	if r := srv.Run("kubectl", "-n", "top", "set", "env", "deployment/burn", "MILLICORES=0"); r.ExitCode != 0 {
		t.Fatalf("set env: %s %s", r.Stdout, r.Stderr)
	}
	eventually(t, "the autoscaler scales the idle Deployment back to 1", func(ctx context.Context) (bool, error) {
		n, err := replicas(ctx)
		return n == 1, fmt.Errorf("%d replicas, %v; %s", n, err, hpaState(ctx, cs))
	})
}

func hpaState(ctx context.Context, cs kubernetes.Interface) string {
	h, err := cs.AutoscalingV2().HorizontalPodAutoscalers("top").Get(ctx, "burn", metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			fmt.Fprintf(&b, "cpu %d%% ", *m.Resource.Current.AverageUtilization)
		}
	}
	for _, c := range h.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s (%s: %s) ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// topRows runs kubectl top and returns its rows by their first column,
// or by namespace/pod with -A.
func topRows(n *harness.Node, args ...string) (map[string][]string, error) {
	r := n.Run(append([]string{"kubectl", "top"}, append(args, "--no-headers")...)...)
	if r.ExitCode != 0 {
		return nil, fmt.Errorf("kubectl top %v: %s", args, r.Stderr)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(args) > 0 && args[0] == "pods" && len(f) >= 3:
			// NAMESPACE POD CONTAINER CPU MEMORY: the containers, by pod
			key := f[0] + "/" + f[1]
			rows[key] = append(rows[key], f[2])
		default:
			rows[f[0]] = f
		}
	}
	return rows, nil
}

// positive reads a quantity kubectl top printed.
func positive(s string) bool {
	q, err := resource.ParseQuantity(s)
	return err == nil && q.Sign() > 0
}

// runPodOn starts an echo pod on the named node.
func runPodOn(t *testing.T, cs kubernetes.Interface, namespace, name, node string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "echo", Image: images.Name("echo"), ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := cs.CoreV1().Pods(namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
