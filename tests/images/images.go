// Package images builds the test images: each directory here holds a small
// Go program, compiled statically and packed as a single-layer OCI archive
// named edgeos.test/<dir>:1. No registry is ever involved.
package images

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgeos/edgeos/pkg/ociimage"
)

// Name is the reference an image is imported under.
func Name(program string) string { return "edgeos.test/" + program + ":1" }

// Build compiles tests/images/<program> and returns its image archive,
// named Name(program).
func Build(t testing.TB, program string) []byte {
	t.Helper()
	return BuildAs(t, program, Name(program))
}

// Program compiles tests/images/<program> statically and returns the path
// of the binary, for running it outside a container too.
func Program(t testing.TB, program string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), program)
	bin := filepath.Join(t.TempDir(), program)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building test image program %s: %v\n%s", program, err, out)
	}
	return bin
}

// BuildAs is Build with another image name.
func BuildAs(t testing.TB, program, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(Program(t, program))
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	err = ociimage.Write(&archive, ociimage.Image{
		Name:       name,
		Arch:       runtime.GOARCH,
		Files:      []ociimage.File{{Path: "/" + program, Mode: 0o755, Data: data}},
		Entrypoint: []string{"/" + program},
	})
	if err != nil {
		t.Fatal(err)
	}
	return archive.Bytes()
}
