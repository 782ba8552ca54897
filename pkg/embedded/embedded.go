// Package embedded writes programs that edgeos carries inside its binary
// (gzip-compressed) to the node's disk: containerd, its runc shim and runc.
package embedded

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/atomicfile"
)

// Install writes the program gz holds to path, mode 0755, unless a file
// with the same content is there (replacing a link or an older version).
// The file is replaced by a rename, never rewritten in place, so running
// copies keep theirs.
//
// Whether the file on disk is the same is decided from the gzip trailer,
// which records the program's length and CRC-32: a start that finds its
// programs in place reads them once and decompresses nothing. When it must
// write, it streams, so the program is never whole in memory.
func Install(path string, gz []byte) error {
	name := filepath.Base(path)
	if len(gz) < 18 {
		return fmt.Errorf("embedded %s: not gzip data", name)
	}
	sum := binary.LittleEndian.Uint32(gz[len(gz)-8:])
	size := binary.LittleEndian.Uint32(gz[len(gz)-4:]) // length mod 2^32
	if same, err := sameContent(path, sum, size); err != nil {
		return fmt.Errorf("embedded %s: %w", name, err)
	} else if same {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("embedded %s: %w", name, err)
	}
	// on disk before the rename: a power cut must not leave an empty
	// program under the name (and clean pages are what the page-out drops)
	return atomicfile.WriteFrom(path, 0o755, func(w io.Writer) error {
		// io.Copy reads to EOF, where gzip checks the trailer's CRC and length
		if _, err := io.Copy(w, zr); err != nil {
			return fmt.Errorf("embedded %s: %w", name, err)
		}
		return nil
	})
}

// sameContent reports whether path is a regular file of the given length
// (mod 2^32) and CRC-32.
func sameContent(path string, sum, size uint32) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || uint32(st.Size()) != size {
		return false, nil
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return h.Sum32() == sum, nil
}

// Link makes path a symbolic link to target (a name beside it: one
// program serving under two names), replacing whatever is there, such as
// a link of an older edgeos to its own binary. The new link is made beside
// path and renamed over it, so that path never goes missing.
func Link(path, target string) error {
	if cur, err := os.Readlink(path); err == nil && cur == target {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".link")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", filepath.Base(path), err)
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}
