// Command gen builds cmd/pause for $GOARCH (and $GOARM) and packs it as the
// pause image archive that pkg/pause embeds. It cannot import pkg/pause,
// which embeds its output; pkg/pause's test checks the name matches.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/edgeos/edgeos/pkg/ociimage"
)

func main() {
	out := flag.String("o", "pause.tar", "archive to write")
	name := flag.String("name", "", "image name (pause.Image)")
	flag.Parse()
	if err := run(*out, *name); err != nil {
		fmt.Fprintln(os.Stderr, "pause image:", err)
		os.Exit(1)
	}
}

func run(out, name string) error {
	arch := os.Getenv("GOARCH")
	if arch == "" {
		arch = runtime.GOARCH
	}
	tmp, err := os.MkdirTemp("", "pause")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "pause")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "github.com/edgeos/edgeos/cmd/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	err = ociimage.Write(&b, ociimage.Image{
		Name:       name,
		Arch:       arch,
		Files:      []ociimage.File{{Path: "/pause", Mode: 0o755, Data: data}},
		Entrypoint: []string{"/pause"},
	})
	if err != nil {
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}
