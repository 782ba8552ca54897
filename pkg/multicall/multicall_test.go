package multicall

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFlagsSorted(t *testing.T) {
	got := Flags(map[string]string{"b": "2", "a": "x=y", "c": ""})
	if want := []string{"--a=x=y", "--b=2", "--c="}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestLinkReplacesStaleLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/nonexistent/old-edgeos", filepath.Join(dir, "tool")); err != nil {
		t.Fatal(err)
	}
	if err := Link(dir, "tool"); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	if got, _ := os.Readlink(filepath.Join(dir, "tool")); got != self {
		t.Fatalf("link points at %q, want %q", got, self)
	}
	if err := Link(dir, "tool"); err != nil {
		t.Fatalf("linking again: %v", err)
	}
}
