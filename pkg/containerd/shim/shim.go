// Package shim holds containerd's runc shim as a small program of its own,
// built from the containerd module for the target architecture and
// embedded gzip-compressed. A shim runs beside every pod for the pod's
// life: run as the whole edgeos binary, each one cost about 40 MB (the Go
// runtime initialising every package edgeos links); on its own it costs a
// few. edgeos writes it to the node's bin dir at start (Install).
package shim

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

//go:generate sh -c "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' -o shim.bin github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 && gzip -9nf shim.bin"

//go:embed shim.bin.gz
var compressed []byte

// Install writes the shim to path unless a file with the same content is
// there (replacing a link or an older shim). Running shims keep their own
// copy: the file is replaced by a rename, never rewritten in place.
func Install(path string) error {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return fmt.Errorf("embedded shim: %w", err)
	}
	bin, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("embedded shim: %w", err)
	}
	if have, err := os.ReadFile(path); err == nil && sha256.Sum256(have) == sha256.Sum256(bin) {
		if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
			return nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".shim-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(bin); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
