package programs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		Containerd: "containerd github.com/containerd/containerd/v2 v2.",
		Shim:       "containerd-shim-runc-v2",
	} {
		path := filepath.Join(dir, name)
		st, err := os.Lstat(path)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o755 {
			t.Fatalf("installed %s: %v %v", name, st, err)
		}
		flag := "-v"
		if name == Containerd {
			flag = "--version"
		}
		out, _ := exec.Command(path, flag).CombinedOutput()
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("%s %s: %s", path, flag, out)
		}
		if st.Size() > 64<<20 {
			t.Errorf("%s is %d MB; it should be small", name, st.Size()>>20)
		}
	}
}

// The CNI plugin answers as both plugins containerd runs for a pod (the
// loopback one through its link), and refuses any other name.
func TestInstallCNI(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CNI, Loopback} {
		cmd := exec.Command(filepath.Join(dir, name))
		cmd.Env = []string{"CNI_COMMAND=VERSION"}
		cmd.Stdin = bytes.NewReader(nil)
		out, err := cmd.Output()
		if err != nil || !bytes.Contains(out, []byte(`"supportedVersions"`)) {
			t.Errorf("%s VERSION: %s %v", name, out, err)
		}
	}
	// started for every pod sandbox: it must stay a small program
	if st, err := os.Stat(filepath.Join(dir, CNI)); err != nil || st.Size() > 16<<20 {
		t.Errorf("%s: %v %v; it should be a small program", CNI, st, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, Loopback)); err != nil || target != CNI {
		t.Errorf("%s links to %q %v, want %s", Loopback, target, err, CNI)
	}
	if err := os.Symlink(CNI, filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "other")).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !bytes.Contains(out, []byte("started as \"other\"")) {
		t.Errorf("started as another name: %s %v, want exit code 2 and the name", out, err)
	}
}
