// Package atomicfile writes files that are, after a crash or a power cut,
// either wholly the old content or wholly the new: written to a temporary
// file beside the target, flushed to disk, renamed over the target, and
// the directory flushed so that the rename itself is on disk.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Write writes data to path with mode, creating path's directory (0700)
// where it is missing.
func Write(path string, data []byte, mode os.FileMode) error {
	return WriteFrom(path, mode, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// WriteFrom writes what fill writes to path with mode. If fill or any
// step fails, path is left as it was and the temporary file is removed.
func WriteFrom(path string, mode os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close() // a second Close only errs
			os.Remove(tmp.Name())
		}
	}()
	// the mode as asked, whatever the umask; set before any byte is written
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return SyncDir(dir)
}

// SyncDir flushes a directory, so that a rename, a new file or a removal
// in it is on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReplaceDir makes dir hold exactly files (slash-separated paths inside
// dir → content), each with mode: the new tree is written and flushed
// beside dir, then swapped with it in one rename, so that after a crash
// dir is wholly the old tree or wholly the new one. Subdirectories are
// 0700. What was in dir before is removed.
func ReplaceDir(dir string, files map[string][]byte, mode os.FileMode) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // the new tree on failure, the old one after the swap
	synced := map[string]bool{}
	for name, data := range files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
			return fmt.Errorf("%s: %q is outside the directory", dir, name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := writeNew(p, data, mode); err != nil {
			return err
		}
		for d := filepath.Dir(p); d != tmp && !synced[d]; d = filepath.Dir(d) {
			if err := SyncDir(d); err != nil {
				return err
			}
			synced[d] = true
		}
	}
	if err := SyncDir(tmp); err != nil {
		return err
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		err = os.Rename(tmp, dir) // no old tree to swap with
	}
	if err != nil {
		return err
	}
	return SyncDir(parent)
}

// writeNew writes a file that does not exist yet, and flushes it.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil { // whatever the umask
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
