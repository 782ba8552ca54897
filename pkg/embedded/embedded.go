// Package embedded writes programs that edgeos carries inside its binary
// (gzip-compressed) to the node's disk: containerd's runc shim and runc.
package embedded

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Install writes the program gz holds to path, mode 0755, unless a file
// with the same content is there (replacing a link or an older version).
// The file is replaced by a rename, never rewritten in place, so running
// copies keep theirs.
func Install(path string, gz []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("embedded %s: %w", filepath.Base(path), err)
	}
	bin, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("embedded %s: %w", filepath.Base(path), err)
	}
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
		if have, err := os.ReadFile(path); err == nil && sha256.Sum256(have) == sha256.Sum256(bin) {
			return nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
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
