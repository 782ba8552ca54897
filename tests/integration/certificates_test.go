package integration

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// TestCertificates runs a server and an agent whose certificates live two
// minutes. Every leaf on both renews while they run (as `edgeos
// certificate check` shows), the nodes never leave Ready, and the
// apiserver still reaches the agent's kubelet; the admin kubeconfig gets
// the renewed certificate. An agent stopped until its certificates are due
// renews them when it starts again. `certificate rotate` renews on demand,
// on the server and (through the server) on the agent.
func TestCertificates(t *testing.T) {
	c := harness.New(t)
	srv, ag := c.AddNode("server"), c.AddNode("agent1")
	ag.AddImage("echo.tar", images.Build(t, "echo"))
	srv.Start(srv.ServerArgs("--certificate-lifetime", "2m")...)
	srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	// the test's own clients are made anew each time: the admin
	// certificate they embed expires too
	client := func() kubernetes.Interface { return kubernetes.NewForConfigOrDie(srv.RESTConfig()) }
	srv.WaitNodeReady(client())
	ag.WaitNodeReady(client())
	ready := map[string]metav1.Time{}
	for _, n := range []*harness.Node{srv, ag} {
		ready[n.Name] = readySince(t, client(), n.Name)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.PodSpec{NodeName: ag.Name, Containers: []corev1.Container{{
			Name: "echo", Image: "edgeos.test/echo:1", ImagePullPolicy: corev1.PullNever,
		}}},
	}
	if _, err := client().CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod echo runs", func(ctx context.Context) (bool, error) {
		p, err := client().CoreV1().Pods("default").Get(ctx, "echo", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})

	first := map[string]time.Time{}
	for _, n := range []*harness.Node{srv, ag} {
		for f, exp := range certExpiries(t, n) {
			first[f] = exp
		}
	}
	adminFirst := adminCertExpiry(t, srv)
	eventually(t, "every leaf certificate of server and agent renewed while running", func(context.Context) (bool, error) {
		now := map[string]time.Time{}
		for _, n := range []*harness.Node{srv, ag} {
			for f, exp := range certExpiries(t, n) {
				now[f] = exp
			}
		}
		for f, exp := range first {
			if !now[f].After(exp) {
				return false, nil
			}
		}
		return true, nil
	})
	eventually(t, "the admin kubeconfig holds the renewed certificate", func(context.Context) (bool, error) {
		return adminCertExpiry(t, srv).After(adminFirst), nil
	})
	// the apiserver reaches the kubelet (its client certificate and the
	// kubelet's serving one, both renewed)
	if r := srv.Run("kubectl", "exec", "echo", "--", "/echo", "env", "HOSTNAME"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "echo") {
		t.Errorf("kubectl exec on the agent after renewal: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	for _, n := range []*harness.Node{srv, ag} {
		if got := readySince(t, client(), n.Name); !got.Time.Equal(ready[n.Name].Time) {
			t.Errorf("node %s left Ready during the renewals (Ready since %v, then since %v)", n.Name, ready[n.Name], got)
		}
	}

	// the agent is away while its certificates become due
	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	eventually(t, "certificate check on the stopped agent reports due certificates", func(context.Context) (bool, error) {
		r := ag.Run("certificate", "check", "--data-dir", ag.DataDir)
		return r.ExitCode == 1 && (strings.Contains(r.Stdout, "due for renewal") || strings.Contains(r.Stdout, "EXPIRED")), nil
	})
	stale := certExpiries(t, ag)
	back := time.Now()
	ag.Start(ag.AgentArgs(srv)...)
	eventually(t, "the returning agent renews its certificates", func(context.Context) (bool, error) {
		for f, exp := range certExpiries(t, ag) {
			if !exp.After(stale[f]) {
				return false, nil
			}
		}
		return true, nil
	})
	eventually(t, "the returning agent is Ready by a heartbeat after its start", func(ctx context.Context) (bool, error) {
		n, err := client().CoreV1().Nodes().Get(ctx, ag.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := readyCondition(n)
		return c != nil && c.Status == corev1.ConditionTrue && c.LastHeartbeatTime.After(back), nil
	})

	// on demand
	r := srv.Run("certificate", "rotate", "--data-dir", srv.DataDir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "serving-kube-apiserver.crt") || !strings.Contains(r.Stdout, "kubelet-serving.crt") {
		t.Errorf("certificate rotate on the server: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if r := ag.Run("certificate", "rotate", "--data-dir", ag.DataDir); r.ExitCode != 0 || strings.Count(r.Stdout, "renewed ") != 4 {
		t.Errorf("certificate rotate on the agent: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if r := ag.Run("certificate", "check", "--data-dir", ag.DataDir); r.ExitCode != 0 {
		t.Errorf("certificate check right after rotate: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if r := srv.Run("kubectl", "exec", "echo", "--", "/echo", "env", "HOSTNAME"); r.ExitCode != 0 {
		t.Errorf("kubectl exec on the agent after rotate: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if got := readySince(t, client(), srv.Name); !got.Time.Equal(ready[srv.Name].Time) {
		t.Errorf("node %s left Ready (Ready since %v, then since %v)", srv.Name, ready[srv.Name], got)
	}
	for _, n := range []*harness.Node{ag, srv} {
		if code := n.Stop(); code != 0 {
			t.Errorf("%s exit code %d", n.Name, code)
		}
	}
}

// certExpiries reads `edgeos certificate check` on n: the expiry of each
// leaf certificate (CA files left out: they do not renew).
func certExpiries(t *testing.T, n *harness.Node) map[string]time.Time {
	t.Helper()
	r := n.Run("certificate", "check", "--data-dir", n.DataDir)
	if r.ExitCode > 1 {
		t.Fatalf("certificate check on %s: %d %s", n.Name, r.ExitCode, r.Stderr)
	}
	out := map[string]time.Time{}
	for _, line := range strings.Split(r.Stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasSuffix(f[0], "-ca.crt") {
			continue
		}
		exp, err := time.Parse(time.RFC3339, f[2])
		if err != nil {
			t.Fatalf("certificate check line %q: %v", line, err)
		}
		out[f[0]] = exp
	}
	if len(out) < 4 {
		t.Fatalf("certificate check on %s lists %d leaf certificates:\n%s", n.Name, len(out), r.Stdout)
	}
	return out
}

// adminCertExpiry is the expiry of the client certificate embedded in the
// server's admin kubeconfig.
func adminCertExpiry(t *testing.T, srv *harness.Node) time.Time {
	t.Helper()
	b, err := os.ReadFile(srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Users []struct {
			User struct {
				Data string `json:"client-certificate-data"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil || len(kc.Users) != 1 {
		t.Fatalf("admin kubeconfig: %v", err)
	}
	pemData, err := base64.StdEncoding.DecodeString(kc.Users[0].User.Data)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCert(pemData)
	if err != nil {
		t.Fatal(err)
	}
	return cert.NotAfter
}

// readySince is when the node's Ready condition last changed.
func readySince(t *testing.T, cs kubernetes.Interface, name string) metav1.Time {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := readyCondition(n)
	if c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("node %s is not Ready: %+v", name, c)
	}
	return c.LastTransitionTime
}
