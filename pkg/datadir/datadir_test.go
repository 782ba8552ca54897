package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareTightensMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, want 0700", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the write check left %v behind", entries)
	}
}

func TestPrepareRefusesAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Prepare(filepath.Join(file, "data"))
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("error %v", err)
	}
}
