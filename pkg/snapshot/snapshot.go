// Package snapshot saves and restores a server's embedded datastore with
// the credentials that go with it. A snapshot is one zstd-compressed tar:
// the SQLite database as of one moment (SQLite's VACUUM INTO, a consistent
// copy taken while kine goes on writing), the server's certificates and
// keys, its Secrets encryption configuration and its token, and a small
// header naming the node, the time and a hash of the token's credential,
// which a restore must be given again. Snapshots are named
// edgeos-<kind>-<node>-<UTC time>.tar.zst, kind "scheduled" or "on-demand".
package snapshot

import (
	"archive/tar"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/atomicfile"
	"github.com/klauspost/compress/zstd"
	// the SQLite driver, registered as "sqlite3"
	_ "github.com/mattn/go-sqlite3"
)

// Kinds of snapshot; retention applies to scheduled ones.
const (
	Scheduled = "scheduled"
	OnDemand  = "on-demand"
)

const (
	suffix     = ".tar.zst"
	headerName = "edgeos-snapshot.json"
	dbName     = "db/state.db"
	// serverPrefix holds the server dir's files in the archive.
	serverPrefix = "server/"
)

// Server is the part of a server's data dir a snapshot covers.
type Server struct {
	// Dir is <data-dir>/server.
	Dir string
	// Files are the files and dirs under Dir that go with the database:
	// certificates and keys, the encryption configuration, the token.
	Files []string
	// DB is the SQLite database.
	DB string
	// Snapshots is where snapshots are kept.
	Snapshots string
	NodeName  string
}

// header is a snapshot's description of itself.
type header struct {
	Version int       `json:"version"`
	Node    string    `json:"node"`
	Time    time.Time `json:"time"`
	// TokenHash is the hex sha256 of the server's token credential.
	TokenHash string `json:"tokenHash"`
}

// TokenHash is how a snapshot records the credential it was taken under.
func TokenHash(credential string) string {
	h := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(h[:])
}

// Save writes a snapshot of kind into s.Snapshots and returns its path.
// credential is the server token's credential part.
func Save(s Server, kind, credential string, now time.Time) (string, error) {
	if err := os.MkdirAll(s.Snapshots, 0o700); err != nil {
		return "", err
	}
	name := fmt.Sprintf("edgeos-%s-%s-%s%s", kind, s.NodeName, now.UTC().Format("20060102T150405Z"), suffix)
	path := filepath.Join(s.Snapshots, name)
	// the copy of the database, beside the snapshots, on the same disk
	tmpDB := filepath.Join(s.Snapshots, "."+name+".db")
	defer os.Remove(tmpDB)
	if err := copyDB(s.DB, tmpDB); err != nil {
		return "", err
	}
	h, err := json.Marshal(header{Version: 1, Node: s.NodeName, Time: now.UTC(), TokenHash: TokenHash(credential)})
	if err != nil {
		return "", err
	}
	err = atomicfile.WriteFrom(path, 0o600, func(w io.Writer) error {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return err
		}
		tw := tar.NewWriter(zw)
		if err := addBytes(tw, headerName, h); err != nil {
			return err
		}
		if err := addFile(tw, dbName, tmpDB); err != nil {
			return err
		}
		for _, f := range s.Files {
			if err := addTree(tw, s.Dir, f); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return "", err
	}
	return path, nil
}

// copyDB copies the database at src to dst as of one moment, while other
// connections write: VACUUM INTO reads in one transaction.
func copyDB(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no embedded datastore (an external one is backed up with its own tools): %w", err)
	}
	db, err := sql.Open("sqlite3", "file:"+src+"?_busy_timeout=30000")
	if err != nil {
		return err
	}
	defer db.Close()
	os.Remove(dst)
	if _, err := db.Exec("VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("copying the datastore: %w", err)
	}
	return nil
}

func addBytes(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func addFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// addTree adds rel under dir (a file, or a dir's regular files) as
// server/<rel>; what does not exist is left out.
func addTree(tw *tar.Writer, dir, rel string) error {
	return filepath.WalkDir(filepath.Join(dir, rel), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		name, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		return addFile(tw, serverPrefix+filepath.ToSlash(name), path)
	})
}

// Info is one snapshot on disk.
type Info struct {
	Name, Path string
	Kind, Node string
	Time       time.Time
	Size       int64
}

// List lists the snapshots in dir, oldest first.
func List(dir string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range entries {
		info, ok := parseName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		st, err := e.Info()
		if err != nil {
			continue
		}
		info.Path, info.Size = filepath.Join(dir, e.Name()), st.Size()
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// parseName reads edgeos-<kind>-<node>-<time>.tar.zst.
func parseName(name string) (Info, bool) {
	rest, ok := strings.CutPrefix(name, "edgeos-")
	if !ok || !strings.HasSuffix(rest, suffix) {
		return Info{}, false
	}
	rest = strings.TrimSuffix(rest, suffix)
	var kind string
	for _, k := range []string{Scheduled, OnDemand} {
		if r, ok := strings.CutPrefix(rest, k+"-"); ok {
			kind, rest = k, r
		}
	}
	i := strings.LastIndex(rest, "-")
	if kind == "" || i < 1 {
		return Info{}, false
	}
	t, err := time.Parse("20060102T150405Z", rest[i+1:])
	if err != nil {
		return Info{}, false
	}
	return Info{Name: name, Kind: kind, Node: rest[:i], Time: t}, true
}

// Delete removes the named snapshots from dir; a name must be one List
// shows (no paths).
func Delete(dir string, names ...string) error {
	for _, n := range names {
		if _, ok := parseName(n); !ok || filepath.Base(n) != n {
			return fmt.Errorf("%q is not the name of a snapshot", n)
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// Prune deletes the oldest scheduled snapshots of node beyond retain and
// returns what it deleted.
func Prune(dir, node string, retain int) ([]string, error) {
	all, err := List(dir)
	if err != nil {
		return nil, err
	}
	var scheduled []string
	for _, s := range all {
		if s.Kind == Scheduled && s.Node == node {
			scheduled = append(scheduled, s.Name)
		}
	}
	if len(scheduled) <= retain {
		return nil, nil
	}
	gone := slices.Clone(scheduled[:len(scheduled)-retain])
	return gone, Delete(dir, gone...)
}
