package embedded

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInstall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prog")
	v1 := bytes.Repeat([]byte("version one\n"), 1000)
	if err := Install(path, gz(t, v1)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if !bytes.Equal(got, v1) || st.Mode().Perm() != 0o755 {
		t.Fatalf("installed %d bytes, mode %v", len(got), st.Mode())
	}

	// the same program again: the file is left as it is
	if err := Install(path, gz(t, v1)); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(path); !os.SameFile(st, st2) {
		t.Error("an unchanged program was rewritten")
	}

	// a different program of the same length replaces it
	v2 := bytes.Repeat([]byte("version two\n"), 1000)
	if err := Install(path, gz(t, v2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v2) {
		t.Error("a changed program of the same length was not written")
	}

	// a damaged file on disk is replaced
	if err := os.WriteFile(path, v2[:100], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Install(path, gz(t, v2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v2) {
		t.Error("a truncated program was not replaced")
	}

	// a link is replaced by the program, its target untouched
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(path), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Install(link, gz(t, v1)); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Lstat(link); !st.Mode().IsRegular() {
		t.Error("the link was kept")
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, v1) {
		t.Error("the link's target was changed")
	}

	// damaged embedded data is an error and leaves the installed file alone
	bad := gz(t, v1)
	bad[len(bad)/2] ^= 0xff
	if err := Install(path, bad); err == nil {
		t.Error("damaged gzip data was installed")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, v2) {
		t.Error("a failed install changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}

// A link replaces an older link or a file, is left alone when it is right,
// and resolves to its target beside it.
func TestLink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loopback")
	if err := os.WriteFile(filepath.Join(dir, "prog"), []byte("program"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, before := range []func() error{
		func() error { return nil },                                       // nothing there
		func() error { return os.Symlink("/usr/local/bin/edgeos", path) }, // an older edgeos's link
		func() error { return os.WriteFile(path, []byte("old"), 0o755) },  // a file
	} {
		os.Remove(path)
		if err := before(); err != nil {
			t.Fatal(err)
		}
		if err := Link(path, "prog"); err != nil {
			t.Fatal(err)
		}
		if cur, err := os.Readlink(path); err != nil || cur != "prog" {
			t.Fatalf("link %q %v, want prog", cur, err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != "program" {
			t.Fatalf("through the link: %q %v", got, err)
		}
	}
	st, _ := os.Lstat(path)
	if err := Link(path, "prog"); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Lstat(path); !os.SameFile(st, st2) {
		t.Error("a right link was made again")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d entries in the dir, want the program and the link: %v", len(entries), entries)
	}
}
