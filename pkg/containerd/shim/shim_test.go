package shim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "containerd-shim-runc-v2")
	// a link to another program, as older edgeos made, is replaced
	if err := os.Symlink("/bin/true", path); err != nil {
		t.Fatal(err)
	}
	if err := Install(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o755 {
		t.Fatalf("installed shim: %v %v", st, err)
	}
	before, _ := os.ReadFile(path)
	if err := Install(path); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(path); !os.SameFile(st, st2) {
		t.Error("an unchanged shim was rewritten")
	}
	// it is containerd's runc shim
	out, _ := exec.Command(path, "-v").CombinedOutput()
	if !bytes.Contains(out, []byte("containerd-shim-runc-v2")) {
		t.Errorf("%s -v: %s", path, out)
	}
	if len(before) > 32<<20 {
		t.Errorf("the shim is %d MB; it should be small", len(before)>>20)
	}
}
