package programs

import (
	"bytes"
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
