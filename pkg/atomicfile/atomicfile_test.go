package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "new", "dir", "token")
	if err := Write(path, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, path, "first", 0o644)
	if err := Write(path, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	check(t, path, "second", 0o600)
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %v, want 0700", st.Mode().Perm())
	}
	onlyTarget(t, path)
}

// A failed write leaves the old file whole and no temporary file behind.
func TestFailedWriteKeepsOld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := WriteFrom(path, 0o600, func(w io.Writer) error {
		if _, err := w.Write([]byte("half of the ne")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFrom: %v, want the fill's error", err)
	}
	check(t, path, "old", 0o600)
	onlyTarget(t, path)
}

// Writers of the same file at once each write a whole file; the last
// rename wins.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := Write(path, []byte(fmt.Sprintf("writer %d\n", i)), 0o600); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n int
	if b, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	} else if _, err := fmt.Sscanf(string(b), "writer %d\n", &n); err != nil || len(b) != len(fmt.Sprintf("writer %d\n", n)) {
		t.Errorf("content %q is not one writer's whole file", b)
	}
	onlyTarget(t, path)
}

func check(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		t.Errorf("%s: %q %v, want %q", path, b, err, content)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
		t.Errorf("%s: mode %v %v, want %v", path, st.Mode().Perm(), err, mode)
	}
}

func onlyTarget(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, filepath.Base(path))
	}
}

// ReplaceDir leaves exactly the new tree, modes as asked, and nothing
// beside it; a name that escapes the directory is refused and the old
// tree stays.
func TestReplaceDir(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	parent := t.TempDir()
	dir := filepath.Join(parent, "certs.d")
	if err := ReplaceDir(dir, map[string][]byte{"a/hosts.toml": []byte("a"), "b/hosts.toml": []byte("b")}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(dir, map[string][]byte{"b/hosts.toml": []byte("b2"), "c/d/hosts.toml": []byte("c")}, 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, filepath.Join(dir, "b", "hosts.toml"), "b2", 0o644)
	check(t, filepath.Join(dir, "c", "d", "hosts.toml"), "c", 0o644)
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("a from the old tree is still there (%v)", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "c")); st.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %v, want 0700", st.Mode().Perm())
	}
	onlyTarget(t, dir)

	if err := ReplaceDir(dir, map[string][]byte{"../escape": []byte("x")}, 0o600); err == nil {
		t.Error("a name outside the directory was accepted")
	}
	check(t, filepath.Join(dir, "b", "hosts.toml"), "b2", 0o644)
	onlyTarget(t, dir)
	if err := ReplaceDir(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("an empty tree left %d entries (%v)", len(entries), err)
	}
}
