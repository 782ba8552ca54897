package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// File is a manifest file of the directory as read now.
type File struct {
	// Path is relative to the directory, with "/" separators.
	Path string
	// Skip: a NAME.skip or NAME.yaml.skip beside it says to leave it alone.
	Skip bool
	Data []byte
	// Sum is the SHA-256 of Data, hex.
	Sum string
	// Err is why the file could not be read.
	Err error
}

// MaxFileSize bounds a manifest file: far above any bundle of CRDs, far
// below what would strain a small server's memory.
const MaxFileSize = 32 << 20

// ErrTooLarge is a file over MaxFileSize, which is not read.
var ErrTooLarge = fmt.Errorf("the file is larger than %d MiB and is not read", MaxFileSize>>20)

// isManifest reports whether a file name is one to apply: YAML or JSON,
// not hidden (editors' swap and backup files are).
func isManifest(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// skipped reports whether names (a directory's entries) mark the manifest
// name to be left alone.
func skipped(name string, names map[string]bool) bool {
	return names[name+".skip"] || names[strings.TrimSuffix(name, filepath.Ext(name))+".skip"]
}

// Scan reads the manifest files under dir and its subdirectories, sorted
// by path, and the directories it went through (to watch). Hidden
// directories are not entered.
func Scan(dir string) (files []File, dirs []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // a directory that went away meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		dirs = append(dirs, p)
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil
		}
		names := map[string]bool{}
		for _, e := range entries {
			names[e.Name()] = true
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !isManifest(e.Name()) {
				continue
			}
			rel, _ := filepath.Rel(dir, filepath.Join(p, e.Name()))
			f := File{Path: filepath.ToSlash(rel), Skip: skipped(e.Name(), names)}
			if !f.Skip {
				f.Data, f.Err = read(filepath.Join(p, e.Name()))
				sum := sha256.Sum256(f.Data)
				f.Sum = hex.EncodeToString(sum[:])
			}
			files = append(files, f)
		}
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, dirs, err
}

// read reads a file of at most MaxFileSize.
func read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

// RecordName is the name of a file's Manifest record: the file's path
// where that is a valid name ("web.yaml"), else the path made one with a
// hash of the path added ("apps/web.yaml" is "apps-web-yaml-" and 8 hex
// digits). Exact names end in a manifest extension and the others in the
// hash, so two files never share a record.
func RecordName(path string) string {
	if len(validation.IsDNS1123Subdomain(path)) == 0 {
		return path
	}
	var b strings.Builder
	for _, r := range strings.ToLower(path) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
			b.WriteByte('-')
		}
		if b.Len() >= 200 {
			break
		}
	}
	sum := sha256.Sum256([]byte(path))
	return strings.TrimPrefix(strings.TrimSuffix(b.String(), "-")+"-", "-") + hex.EncodeToString(sum[:4])
}
