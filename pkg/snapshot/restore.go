package snapshot

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/expansion"
	"github.com/klauspost/compress/zstd"
)

// Restore replaces s's database and credentials with those of the
// snapshot at file, which must have been taken under the token credential
// given. The server must be stopped. Everything is read and checked into
// a staging dir first; only then is each replaced file renamed aside (to
// <name>.before-restore-<time>) and the restored one renamed into place.
// It returns what it put aside.
func Restore(s Server, file, credential string, now time.Time) ([]string, error) {
	if c, err := net.Dial("unix", filepath.Join(filepath.Dir(s.DB), "kine.sock")); err == nil {
		c.Close()
		return nil, errors.New("the edgeos server is running on this data dir: stop it first")
	}
	staging := s.Dir + ".restore"
	if err := os.RemoveAll(staging); err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	if err := extract(s, file, credential, staging); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	stamp := ".before-restore-" + now.UTC().Format("20060102T150405Z")
	var aside []string
	moveAside := func(p string) error {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err := os.Rename(p, p+stamp); err != nil {
			return err
		}
		aside = append(aside, p+stamp)
		return nil
	}
	for _, p := range []string{s.DB, s.DB + "-wal", s.DB + "-shm"} {
		if err := moveAside(p); err != nil {
			return aside, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(s.DB), 0o700); err != nil {
		return aside, err
	}
	if err := os.Rename(filepath.Join(staging, filepath.FromSlash(dbName)), s.DB); err != nil {
		return aside, err
	}
	for _, f := range s.Files {
		staged := filepath.Join(staging, filepath.FromSlash(serverPrefix+f))
		if _, err := os.Lstat(staged); errors.Is(err, os.ErrNotExist) {
			continue
		}
		target := filepath.Join(s.Dir, f)
		if err := moveAside(target); err != nil {
			return aside, err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return aside, err
		}
		if err := os.Rename(staged, target); err != nil {
			return aside, err
		}
	}
	return aside, syncDirs(s)
}

// extract reads the snapshot into staging, checking its header first and
// every entry's name and type.
func extract(s Server, file, credential, staging string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(expansion.Limit(zr, st.Size(), expansion.Floor, file))
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i < 2 {
				return errors.New("not a complete snapshot")
			}
			break
		}
		if err != nil {
			return fmt.Errorf("not a snapshot (or cut short): %w", err)
		}
		if i == 0 {
			if hdr.Name != headerName {
				return errors.New("not an edgeos snapshot: no header")
			}
			if err := checkHeader(tr, credential); err != nil {
				return err
			}
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("entry %q is not a regular file", hdr.Name)
		}
		if !allowed(s, hdr.Name) {
			return fmt.Errorf("entry %q is not part of a snapshot", hdr.Name)
		}
		dst := filepath.Join(staging, filepath.FromSlash(hdr.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := writeEntry(dst, tr); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(staging, filepath.FromSlash(dbName))); err != nil {
		return errors.New("the snapshot holds no database")
	}
	return nil
}

func checkHeader(r io.Reader, credential string) error {
	var h header
	if err := json.NewDecoder(io.LimitReader(r, 1<<16)).Decode(&h); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	if h.Version != 1 {
		return fmt.Errorf("snapshot format %d is not one this edgeos reads", h.Version)
	}
	if h.TokenHash != TokenHash(credential) {
		return errors.New("the snapshot was taken under another token: give that token (--token or --token-file)")
	}
	return nil
}

// allowed reports whether an entry name is the database or one of the
// server's files, with nothing that climbs out.
func allowed(s Server, name string) bool {
	if name == dbName {
		return true
	}
	rel, ok := strings.CutPrefix(name, serverPrefix)
	if !ok || rel == "" || path.Clean(rel) != rel || path.IsAbs(rel) || strings.HasPrefix(rel, "../") || rel == ".." {
		return false
	}
	return slices.ContainsFunc(s.Files, func(f string) bool { return rel == f || strings.HasPrefix(rel, f+"/") })
}

func writeEntry(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if strings.HasSuffix(dst, ".crt") {
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDirs flushes the renames.
func syncDirs(s Server) error {
	dirs := []string{filepath.Dir(s.DB), s.Dir}
	for _, f := range s.Files {
		dirs = append(dirs, filepath.Dir(filepath.Join(s.Dir, f)))
	}
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
