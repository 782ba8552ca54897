package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKillallAndUninstall starts a server by hand, as `make run` does, with
// a pod (hostPort, volumes, its own network namespace) and a hostNetwork
// pod: `edgeos killall` leaves no process, mount, link, address, network
// namespace, iptables rule or nftables table of edgeos, and keeps the data dir;
// `edgeos uninstall` removes the data dir and /etc/edgeos (an overlay
// here); both succeed again when there is nothing left to do.
func TestKillallAndUninstall(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("server")
	scratch := overlay(t, n, "/etc")
	n.AddImage("echo.tar", images.Build(t, "echo"))
	// a config file, as a user would keep: uninstall removes it
	if r := n.Setup("mkdir -p /etc/edgeos && echo 'snapshot-retention: 3' > /etc/edgeos/config.yaml"); r.ExitCode != 0 {
		t.Fatal(r.Stderr)
	}
	n.Start(n.ServerArgs()...)
	cs := n.WaitReady()
	n.WaitNodeReady(cs)

	mark := fmt.Sprintf("killall-%d", os.Getpid())
	manifest, err := os.ReadFile(filepath.Join(repoRoot(t), "tests/testdata/killall.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "killall.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(manifest), "MARK_VALUE", mark)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := n.Run("kubectl", "apply", "-f", path); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	eventually(t, "both pods run", func(ctx context.Context) (bool, error) {
		for _, name := range []string{"killall-pod", "killall-host"} {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil || p.Status.Phase != corev1.PodRunning {
				return false, err
			}
		}
		return true, nil
	})
	if got := marked(mark); len(got) < 2 {
		t.Fatalf("the pods' processes are not found by their mark: %v", got)
	}
	before := leftovers(t, n)
	if len(before) < 4 {
		t.Fatalf("before killall, the checks find too little to prove anything: %v", before)
	}
	t.Logf("before killall: %d things of edgeos, such as %v", len(before), before[:4])

	if r := n.Run("killall", "--data-dir", "relative"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "must be an absolute path") {
		t.Errorf("killall with a relative data dir: exit %d %q", r.ExitCode, r.Stderr)
	}
	for round := 1; round <= 2; round++ {
		r := n.Run("killall", "--data-dir", n.DataDir)
		if r.ExitCode != 0 {
			t.Fatalf("killall, round %d: exit %d\n%s\n%s", round, r.ExitCode, r.Stdout, r.Stderr)
		}
		t.Logf("killall, round %d: %s", round, strings.TrimSpace(r.Stdout))
		if left := leftovers(t, n); len(left) > 0 {
			t.Errorf("after killall, round %d: %v\n%s", round, left, r.Stdout)
		}
		if got := marked(mark); len(got) > 0 {
			t.Errorf("after killall, round %d, the pods' processes run: %v", round, got)
		}
	}
	if _, err := os.Stat(filepath.Join(n.DataDir, "server", "db")); err != nil {
		t.Errorf("killall took the data: %v", err)
	}

	for round := 1; round <= 2; round++ {
		if r := n.Run("uninstall", "--data-dir", n.DataDir); r.ExitCode != 0 {
			t.Fatalf("uninstall, round %d: exit %d\n%s\n%s", round, r.ExitCode, r.Stdout, r.Stderr)
		}
		if _, err := os.Stat(n.DataDir); !os.IsNotExist(err) {
			t.Errorf("after uninstall, round %d, the data dir is there: %v", round, err)
		}
		if r := n.Shell("test -e /etc/edgeos"); r.ExitCode == 0 {
			t.Errorf("after uninstall, round %d, /etc/edgeos is there", round)
		}
	}
	if _, err := os.Stat(filepath.Join(scratch, "etc-upper", "edgeos")); !os.IsNotExist(err) {
		t.Errorf("/etc/edgeos is still in the node's overlay: %v", err)
	}
}

// marked are the processes anywhere on the host whose environment holds
// MARK=mark.
func marked(mark string) []string {
	var out []string
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, e := range envs {
		b, err := os.ReadFile(e)
		if err == nil && strings.Contains("\x00"+string(b), "\x00MARK="+mark+"\x00") {
			out = append(out, filepath.Base(filepath.Dir(e)))
		}
	}
	return out
}

// leftovers lists what of edgeos is on the node: processes, mounts under
// the data dir or /run/edgeos, links, the cluster DNS address, network
// namespaces, iptables rules, the NetworkPolicy table.
func leftovers(t *testing.T, n *harness.Node) []string {
	t.Helper()
	var left []string
	for _, pid := range n.PIDs() {
		exe, _ := os.Readlink("/proc/" + pid + "/exe")
		if strings.Contains(exe, "edgeos") || strings.HasPrefix(exe, n.DataDir) {
			left = append(left, "process "+pid+" "+exe)
		}
	}
	mounts := n.Shell("cat /proc/self/mountinfo")
	for _, line := range strings.Split(mounts.Stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (strings.HasPrefix(f[4], n.DataDir+"/") || strings.HasPrefix(f[4], "/run/edgeos") || strings.HasPrefix(f[4], "/run/netns/cni-")) {
			left = append(left, "mount "+f[4])
		}
	}
	r := n.Shell(`ip -o link show | grep -E 'edgeos0|edgeos\.1' || true
ip -o addr show dev lo | grep -F ' 10.43.0.10/' || true
ls /run/netns 2>/dev/null | sed 's/^/netns /'
iptables-save | grep -E 'EDGEOS-|KUBE-' | sed 's/^/rule /' | head -3
if nft list table inet edgeos-netpol >/dev/null 2>&1; then echo 'nftables table inet edgeos-netpol'; fi`)
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if line != "" {
			left = append(left, line)
		}
	}
	return left
}
