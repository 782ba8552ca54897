package teardown

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOursFindsOnlyThisEdgeos(t *testing.T) {
	self := os.Getpid()
	table := map[int]proc{
		self: {pid: self, ppid: 1, exe: "/home/pi/edgeos-linux-arm64", args: []string{"./edgeos-linux-arm64", "killall"}, netns: "net:[1]"},
		14:   {pid: 14, ppid: 1, exe: "/home/pi/edgeos-linux-arm64", args: []string{"./edgeos-linux-arm64", "server"}, netns: "net:[1]"}, // run from the same file
		10:   {pid: 10, ppid: 1, exe: "/usr/local/bin/edgeos", args: []string{"edgeos", "server"}, netns: "net:[1]"},
		11:   {pid: 11, ppid: 1, exe: "/opt/edgeos", args: []string{"/opt/edgeos", "agent", "--server", "x"}, netns: "net:[1]"},
		12:   {pid: 12, ppid: 1, exe: "/usr/local/bin/edgeos", args: []string{"edgeos", "server"}, netns: "net:[2]"},  // another machine's namespace
		13:   {pid: 13, ppid: 1, exe: "/usr/local/bin/edgeos", args: []string{"edgeos", "kubectl"}, netns: "net:[1]"}, // not a node
		20:   {pid: 20, ppid: 10, exe: "/var/lib/edgeos/agent/bin/containerd"},
		21:   {pid: 21, ppid: 1, exe: "/var/lib/edgeos/agent/bin/containerd-shim-runc-v2"},
		22:   {pid: 22, ppid: 21, exe: "/pause"},
		23:   {pid: 23, ppid: 21, exe: "/echo"},
		24:   {pid: 24, ppid: 23, exe: "/bin/sh"},
		30:   {pid: 30, ppid: 1, exe: "/other/data/agent/bin/containerd-shim-runc-v2"}, // another data dir
		31:   {pid: 31, ppid: 30, exe: "/echo"},
		40:   {pid: 40, ppid: 1, exe: "/usr/sbin/sshd"},
	}
	edgeos, runtime := ours(table, "/var/lib/edgeos")
	if want := []int{10, 11, 14}; !reflect.DeepEqual(edgeos, want) {
		t.Errorf("edgeos %v, want %v", edgeos, want)
	}
	if want := []int{20, 21, 22, 23, 24}; !reflect.DeepEqual(runtime, want) {
		t.Errorf("runtime %v, want %v", runtime, want)
	}
}

func TestOurRule(t *testing.T) {
	for line, want := range map[string]bool{
		":KUBE-SERVICES - [0:0]\n": true,
		"-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n": true,
		"-A POSTROUTING -j EDGEOS-POSTROUTING\n":                                               true,
		"-A POSTROUTING -m comment --comment \"edgeos hostPort hairpin\" -j MASQUERADE\n":      true,
		"-A INPUT -p tcp --dport 22 -j ACCEPT\n":                                               false,
		"*nat\n":                                                                               false,
		"COMMIT\n":                                                                             false,
	} {
		if got := ourRule(line); got != want {
			t.Errorf("ourRule(%q) = %v", line, got)
		}
	}
}

func TestUnescape(t *testing.T) {
	if got := unescape(`/var/lib/edge\040os/x`); got != "/var/lib/edge os/x" {
		t.Errorf("unescape: %q", got)
	}
	if !under("/var/lib/edgeos/agent", "/var/lib/edgeos") || under("/var/lib/edgeos2", "/var/lib/edgeos") {
		t.Error("under")
	}
}

func TestRemoveUnmountedKeepsMountedDirs(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "volume")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount here (not root?): %v", err)
	}
	mounted := true
	defer func() {
		if mounted {
			_ = unix.Unmount(sub, unix.MNT_DETACH)
		}
	}()
	if err := os.WriteFile(filepath.Join(sub, "not-ours"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeUnmounted(dir); err == nil || !strings.Contains(err.Error(), "still mounted") {
		t.Fatalf("removeUnmounted over a mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sub, "not-ours")); err != nil {
		t.Fatalf("a file below a mount went: %v", err)
	}
	if err := unix.Unmount(sub, 0); err != nil {
		t.Fatal(err)
	}
	mounted = false
	if err := removeUnmounted(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", dir, err)
	}
}
