package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
)

// TestInstallScratchRoot runs install.sh into a scratch root: the files it
// writes, their modes, the unit systemd-analyze accepts, a second run that
// changes nothing, the uninstall script that leaves nothing; and refusals
// (not root, wrong checksum) that write nothing.
func TestInstallScratchRoot(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts/install.sh")
	bin := harness.Binary(t)
	root := filepath.Join(t.TempDir(), "root")
	install := func(env ...string) (string, int) {
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), append([]string{"INSTALL_EDGEOS_ROOT=" + root, "INSTALL_EDGEOS_BINARY=" + bin}, env...)...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}

	if out, code := install("EDGEOS_URL=https://198.51.100.1:6443", "EDGEOS_TOKEN=K10abc::server:def"); code != 0 {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	want := map[string]os.FileMode{
		"usr/local/bin/edgeos":                  0o755,
		"usr/local/bin/edgeos-killall.sh":       0o755,
		"usr/local/bin/edgeos-uninstall.sh":     0o755,
		"etc/systemd/system/edgeos.service":     0o644,
		"etc/systemd/system/edgeos.service.env": 0o600,
		"etc/init.d/edgeos":                     0o755,
		"etc/edgeos/installed-files":            0o644,
	}
	for f, mode := range want {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Errorf("install wrote no %s: %v", f, err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %o, want %o", f, st.Mode().Perm(), mode)
		}
	}
	if err := exec.Command("cmp", "-s", bin, filepath.Join(root, "usr/local/bin/edgeos")).Run(); err != nil {
		t.Errorf("the installed binary differs from %s: %v", bin, err)
	}
	if link, err := os.Readlink(filepath.Join(root, "usr/local/bin/kubectl")); err != nil || link != "edgeos" {
		t.Errorf("kubectl link: %q %v", link, err)
	}
	env, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/edgeos.service.env"))
	for _, line := range []string{`EDGEOS_URL="https://198.51.100.1:6443"`, `EDGEOS_TOKEN="K10abc::server:def"`} {
		if !strings.Contains(string(env), line+"\n") {
			t.Errorf("environment file lacks %s:\n%s", line, env)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/edgeos.service"))
	for _, line := range []string{"Type=notify", "Delegate=yes", "KillMode=process", "Restart=always", "ExecStart=/usr/local/bin/edgeos agent"} {
		if !strings.Contains(string(unit), line+"\n") {
			t.Errorf("unit lacks %s:\n%s", line, unit)
		}
	}
	// systemd-analyze checks the unit with its paths moved into the root
	moved := strings.NewReplacer("/usr/local/bin/", root+"/usr/local/bin/", "/etc/systemd/system/edgeos.service.env", root+"/etc/systemd/system/edgeos.service.env").Replace(string(unit))
	check := filepath.Join(t.TempDir(), "edgeos.service")
	write(t, check, []byte(moved))
	if out, err := exec.Command("systemd-analyze", "verify", check).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	before := snapshot(t, root)
	if out, code := install("EDGEOS_URL=https://198.51.100.1:6443", "EDGEOS_TOKEN=K10abc::server:def"); code != 0 {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}
	sameSnapshot(t, "a second install", before, snapshot(t, root))

	if out, err := exec.Command("sh", filepath.Join(root, "usr/local/bin/edgeos-uninstall.sh")).CombinedOutput(); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		left, _ := exec.Command("find", root).CombinedOutput()
		t.Errorf("uninstall left:\n%s", left)
	}

	// refusals write nothing
	if out, code := install("INSTALL_EDGEOS_SHA256=" + strings.Repeat("0", 64)); code == 0 || !strings.Contains(out, "checksum mismatch") {
		t.Errorf("a wrong checksum: exit %d\n%s", code, out)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", script)
	cmd.Env = append(os.Environ(), "INSTALL_EDGEOS_ROOT="+root, "INSTALL_EDGEOS_BINARY="+bin)
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "must run as root") {
		t.Errorf("as a user: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	if out, code := install("EDGEOS_URL=https://198.51.100.1:6443"); code == 0 || !strings.Contains(out, "EDGEOS_TOKEN") {
		t.Errorf("an agent without a token: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("refused installs wrote into %s", root)
	}
}

// TestInstallFromURL serves a release's files on loopback, as a download
// site would: install.sh fetches the xz-compressed binary when it is there,
// checks it and installs the same binary as the raw one; it takes the raw
// one when asked to or when there is no compressed one; a compressed
// download whose checksum does not match is refused and writes nothing.
func TestInstallFromURL(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts/install.sh")
	bin := harness.Binary(t)
	site := t.TempDir()
	raw := filepath.Join(site, "edgeos-linux-test")
	if out, err := exec.Command("cp", bin, raw).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := exec.Command("sh", "-c", "xz -0 -T0 -k "+raw+" && cd "+site+" && sha256sum edgeos-linux-test > edgeos-linux-test.sha256 && sha256sum edgeos-linux-test.xz > edgeos-linux-test.xz.sha256").CombinedOutput(); err != nil {
		t.Fatalf("preparing the release files: %v %s", err, out)
	}
	var mu sync.Mutex
	var fetched []string
	files := http.FileServer(http.Dir(site))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched = append(fetched, r.URL.Path)
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	install := func(url string, env ...string) (string, int, []string) {
		mu.Lock()
		fetched = nil
		mu.Unlock()
		root := filepath.Join(t.TempDir(), "root")
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), append([]string{"INSTALL_EDGEOS_ROOT=" + root, "INSTALL_EDGEOS_BINARY=" + url}, env...)...)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() == 0 {
			if err := exec.Command("cmp", "-s", raw, filepath.Join(root, "usr/local/bin/edgeos")).Run(); err != nil {
				t.Errorf("installed from %s %v: the binary differs from the raw one", url, env)
			}
		} else if _, err := os.Stat(root); !os.IsNotExist(err) {
			t.Errorf("a refused install from %s wrote into its root", url)
		}
		mu.Lock()
		defer mu.Unlock()
		return string(out), cmd.ProcessState.ExitCode(), slices.Clone(fetched)
	}
	url := srv.URL + "/edgeos-linux-test"
	for _, tc := range []struct {
		url  string
		env  []string
		want []string // the files fetched
	}{
		{url, nil, []string{"/edgeos-linux-test.xz", "/edgeos-linux-test.xz.sha256", "/edgeos-linux-test.sha256"}},
		{url + ".xz", nil, []string{"/edgeos-linux-test.xz", "/edgeos-linux-test.xz.sha256", "/edgeos-linux-test.sha256"}},
		{url, []string{"INSTALL_EDGEOS_RAW=1"}, []string{"/edgeos-linux-test", "/edgeos-linux-test.sha256"}},
	} {
		out, code, got := install(tc.url, tc.env...)
		if code != 0 || !slices.Equal(got, tc.want) || !strings.Contains(out, "checksum verified") {
			t.Errorf("install from %s %v: exit %d, fetched %v (want %v)\n%s", tc.url, tc.env, code, got, tc.want, out)
		}
	}

	// a compressed file that does not match its sum is refused
	write(t, raw+".xz.sha256", []byte(strings.Repeat("0", 64)+"  edgeos-linux-test.xz\n"))
	if out, code, _ := install(url); code == 0 || !strings.Contains(out, "checksum mismatch for "+url+".xz") {
		t.Errorf("a compressed binary with a wrong sum: exit %d\n%s", code, out)
	}
	// without a compressed file, the raw one
	if err := os.Remove(raw + ".xz"); err != nil {
		t.Fatal(err)
	}
	if out, code, got := install(url); code != 0 || !slices.Contains(got, "/edgeos-linux-test") {
		t.Errorf("with no compressed binary: exit %d, fetched %v\n%s", code, got, out)
	}
}

// TestInstallStarts installs edgeos for real on a harness machine, whose
// /etc and /usr/local are overlays (the host's stay untouched): with no
// systemd or openrc, install.sh starts edgeos directly; the node goes Ready;
// the uninstall script stops everything and removes it all.
func TestInstallStarts(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("node")
	scratch := overlay(t, n, "/etc", "/usr/local")
	line := strings.Join(n.ServerArgs(), " ")
	r := n.Shell(fmt.Sprintf("INSTALL_EDGEOS_BINARY=%s INSTALL_EDGEOS_EXEC='%s' sh %s", harness.Binary(t), line, filepath.Join(repoRoot(t), "scripts/install.sh")))
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "starting edgeos directly") {
		t.Fatalf("install: exit %d\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	for _, f := range []string{"usr-local-upper/bin/edgeos", "etc-upper/systemd/system/edgeos.service"} {
		if _, err := os.Stat(filepath.Join(scratch, f)); err != nil {
			t.Fatalf("the install did not land in the node's overlays: %v", err)
		}
	}
	cs := n.WaitReady()
	nodeReady(t, cs, n.Name, time.Time{})

	if r := n.Shell("/usr/local/bin/edgeos-uninstall.sh"); r.ExitCode != 0 {
		t.Fatalf("uninstall: %s %s", r.Stdout, r.Stderr)
	}
	for _, pid := range n.PIDs() {
		if exe, _ := os.Readlink("/proc/" + pid + "/exe"); strings.Contains(exe, "edgeos") {
			t.Errorf("after uninstall, pid %s still runs %s", pid, exe)
		}
	}
	left := n.Shell(`ip -o link show | grep -c -E 'edgeos0|edgeos\.1' || true; iptables-save | grep -c -E 'EDGEOS-|KUBE-' || true; ls -d /usr/local/bin/edgeos /usr/local/bin/kubectl /etc/edgeos ` + n.DataDir + ` 2>/dev/null | wc -l`)
	if got := strings.Join(strings.Fields(left.Stdout), " "); got != "0 0 0" {
		t.Errorf("after uninstall: links, iptables rules, files: %s (%s)", got, left.Stderr)
	}
	for _, upper := range []string{"etc-upper", "usr-local-upper"} {
		if out, _ := exec.Command("find", filepath.Join(scratch, upper), "-name", "*edgeos*").Output(); strings.TrimSpace(string(out)) != "" {
			t.Errorf("uninstall left in %s:\n%s", upper, out)
		}
	}
}

// overlay puts an overlay on each of the node's dirs, whose upper layers
// are DIR-upper (slashes as dashes) in the returned directory, so that what
// the node writes there never reaches the host's. It fails the test unless
// the node sees every overlay.
func overlay(t *testing.T, n *harness.Node, dirs ...string) string {
	t.Helper()
	scratch := t.TempDir()
	var mounts, checks []string
	for _, dir := range dirs {
		name := strings.ReplaceAll(strings.Trim(dir, "/"), "/", "-")
		up, work := filepath.Join(scratch, name+"-upper"), filepath.Join(scratch, name+"-work")
		mounts = append(mounts, fmt.Sprintf("mkdir -p %s %s && mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s", up, work, dir, up, work, dir))
		checks = append(checks, fmt.Sprintf("grep -q ' %s overlay ' /proc/self/mounts", dir))
	}
	if r := n.Setup(strings.Join(mounts, " && ")); r.ExitCode != 0 {
		t.Fatalf("overlays: %s", r.Stderr)
	}
	// never write onto the host: the overlays must be what the node sees
	if r := n.Shell(strings.Join(checks, " && ")); r.ExitCode != 0 {
		t.Fatalf("the node does not see its overlays; refusing to go on")
	}
	return scratch
}
