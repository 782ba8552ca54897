package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgeos/edgeos/pkg/token"
	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestSecretsEncryption: a new cluster stores Secrets encrypted (their
// values are nowhere in the datastore's files, where a ConfigMap's value
// is); `secrets-encrypt rotate-keys` killed at each of its steps leaves
// every Secret readable, and run again finishes the rotation; disable
// writes every Secret again in the clear and enable encrypts them again.
func TestSecretsEncryption(t *testing.T) {
	c := harness.New(t)
	srv := c.AddNode("server")
	srv.Start(srv.ServerArgs("--disable-agent")...)
	cs := srv.WaitReady()
	ctx := context.Background()
	suffix, err := token.RandomHex(8)
	if err != nil {
		t.Fatal(err)
	}
	secretCanary, mapCanary := "secret-canary-"+suffix, "configmap-canary-"+suffix
	want := map[string]string{"canary": secretCanary}
	for i := range 50 {
		want[fmt.Sprintf("s-%d", i)] = fmt.Sprintf("value-%d-%s", i, suffix)
	}
	for name, v := range want {
		if _, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"v": v},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "control"}, Data: map[string]string{"v": mapCanary},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	raw := datastoreBytes(t, srv)
	if !bytes.Contains(raw, []byte(mapCanary)) {
		t.Fatal("the ConfigMap's value is not in the datastore's files: the search below would prove nothing")
	}
	if bytes.Contains(raw, []byte(secretCanary)) {
		t.Fatal("a Secret's value is in the datastore's files in the clear")
	}
	if !bytes.Contains(raw, []byte("k8s:enc:secretbox:v1:")) {
		t.Fatal("no secretbox-encrypted value in the datastore")
	}
	status := srv.Run("secrets-encrypt", "status", "--data-dir", srv.DataDir)
	if status.ExitCode != 0 || !strings.Contains(status.Stdout, "Encryption: enabled") || !strings.Contains(status.Stdout, "Apiserver: uses this configuration") {
		t.Fatalf("status: %d %s %s", status.ExitCode, status.Stdout, status.Stderr)
	}
	firstKey := encryptingKey(t, status.Stdout)

	// a rotation killed at each of its three steps, each run going on
	// from where the one before was cut short
	for _, step := range []string{"introduce key", "write every Secret again", "drop the keys"} {
		killedAt(t, srv, step, "secrets-encrypt", "rotate-keys", "--data-dir", srv.DataDir)
		secretsReadable(t, cs, want)
	}
	if r := srv.Run("secrets-encrypt", "rotate-keys", "--data-dir", srv.DataDir); r.ExitCode != 0 {
		t.Fatalf("rotate-keys run to its end: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	secretsReadable(t, cs, want)
	status = srv.Run("secrets-encrypt", "status", "--data-dir", srv.DataDir)
	if strings.Contains(status.Stdout, "unfinished") || encryptingKey(t, status.Stdout) == firstKey || strings.Count(status.Stdout, "edgeos-") != 1 {
		t.Fatalf("after the rotation: %s", status.Stdout)
	}

	// every Secret of the cluster: the test's and edgeos's own
	all, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Items) < len(want) {
		t.Fatalf("the cluster lists %d Secrets, fewer than the test's %d", len(all.Items), len(want))
	}
	wrote := fmt.Sprintf("wrote %d Secrets again", len(all.Items))
	if r := srv.Run("secrets-encrypt", "disable", "--data-dir", srv.DataDir); r.ExitCode != 0 || !strings.Contains(r.Stdout, wrote) {
		t.Fatalf("disable: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if !bytes.Contains(datastoreBytes(t, srv), []byte(secretCanary)) {
		t.Error("after disable, the Secret was not written again in the clear")
	}
	if r := srv.Run("secrets-encrypt", "enable", "--data-dir", srv.DataDir); r.ExitCode != 0 || !strings.Contains(r.Stdout, wrote) {
		t.Fatalf("enable: %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	secretsReadable(t, cs, want)
	if st, err := os.Stat(filepath.Join(srv.DataDir, "server", "cred", "encryption-config.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("encryption configuration: %v, mode %v", err, st.Mode().Perm())
	}
	if code := srv.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// datastoreBytes is every file of the server's embedded datastore (the
// database and its WAL), read raw.
func datastoreBytes(t *testing.T, srv *harness.Node) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(srv.DataDir, "server", "db", "state.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("datastore files: %v %v", files, err)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// encryptingKey is the key `secrets-encrypt status` says encrypts.
func encryptingKey(t *testing.T, status string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(l, "Keys: "); ok {
			if k, _, ok := strings.Cut(rest, " (encrypts)"); ok {
				return k
			}
		}
	}
	t.Fatalf("no encrypting key in:\n%s", status)
	return ""
}

// killedAt runs `edgeos args…` on n and kills it with SIGKILL as soon as
// it prints a line holding step.
func killedAt(t *testing.T, n *harness.Node, step string, args ...string) {
	t.Helper()
	cmd := n.Command(args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), step) {
			seen = true
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			break
		}
	}
	_, _ = bufio.NewReader(out).WriteTo(&bytes.Buffer{})
	_ = cmd.Wait()
	if !seen {
		t.Fatalf("%v ended without printing %q; stderr:\n%s", args, step, stderr.String())
	}
}

// secretsReadable reads every Secret back through the API.
func secretsReadable(t *testing.T, cs kubernetes.Interface, want map[string]string) {
	t.Helper()
	for name, v := range want {
		s, err := cs.CoreV1().Secrets("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("secret %s: %v", name, err)
		}
		if got := string(s.Data["v"]); got != v {
			t.Fatalf("secret %s: %q, want %q", name, got, v)
		}
	}
}
