package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/edgeos/edgeos/pkg/expansion"
)

type entry struct {
	name, link string
	data       []byte
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Linkname: e.link, Mode: 0o777, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ociArchive is a small valid OCI layout of one image.
func ociArchive(t testing.TB) []byte {
	t.Helper()
	blob := func(data []byte) (string, entry) {
		d := fmt.Sprintf("%x", sha256.Sum256(data))
		return "sha256:" + d, entry{name: "blobs/sha256/" + d, data: data}
	}
	layer := tarOf(t, entry{name: "hello", data: []byte("hi\n")})
	layerDigest, layerEntry := blob(layer)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + layerDigest + `"]}}`)
	configDigest, configEntry := blob(config)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest, "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": len(layer)}},
	})
	manifestDigest, manifestEntry := blob(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifestDigest, "size": len(manifest),
			"annotations": map[string]string{"io.containerd.image.name": "edgeos.test/fuzz:1"},
		}},
	})
	return tarOf(t, entry{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		entry{name: "index.json", data: index}, layerEntry, configEntry, manifestEntry)
}

// hostile are archives that try to reach outside the import: paths with
// "..", links out of the tree, a manifest naming them.
func hostile(t testing.TB) map[string][]byte {
	manifest := []byte(`[{"Config":"../../escape-config","RepoTags":["evil:1"],"Layers":["link-out","../../escape"]}]`)
	return map[string][]byte{
		"dotdot": tarOf(t, entry{name: "../../escape", data: []byte("x")}, entry{name: "manifest.json", data: manifest}),
		"link-out": tarOf(t, entry{name: "link-out", link: "/etc/passwd"},
			entry{name: "link-up", link: "../../../../etc/shadow"}, entry{name: "manifest.json", data: manifest}),
		"absolute":  tarOf(t, entry{name: "/tmp/edgeos-escape", data: []byte("x")}),
		"truncated": ociArchive(t)[:700],
	}
}

// importArchive is the import path up to containerd's content store, run
// in this process as `edgeos images import` runs it: the archive opened
// (and decompressed within bounds), then read by containerd's importer,
// which runs in the client. The store is in dir, beside the archive.
func importArchive(t testing.TB, data []byte, floor int64) (string, error) {
	t.Helper()
	dir := t.TempDir()
	store, err := local.NewStore(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, importInto(t, store, dir, data, floor)
}

func importInto(t testing.TB, store content.Store, dir string, data []byte, floor int64) error {
	t.Helper()
	path := filepath.Join(dir, "archive")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := open(path, floor)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = archive.ImportIndex(context.Background(), store, r)
	return err
}

// outside lists what an import left in dir besides the archive and the
// content store, or beside dir.
func outside(t testing.TB, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != "archive" && e.Name() != "content" {
			out = append(out, e.Name())
		}
	}
	for _, up := range []string{"escape", "../escape", "escape-config", "../escape-config"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), up)); err == nil {
			out = append(out, up)
		}
	}
	return out
}

func TestImportValidAndHostileArchives(t *testing.T) {
	if _, err := importArchive(t, ociArchive(t), expansion.Floor); err != nil {
		t.Fatalf("a valid OCI archive: %v", err)
	}
	if _, err := importArchive(t, gz(t, ociArchive(t)), expansion.Floor); err != nil {
		t.Fatalf("a valid OCI archive, gzipped: %v", err)
	}
	for name, data := range hostile(t) {
		dir, _ := importArchive(t, data, expansion.Floor)
		if left := outside(t, dir); len(left) > 0 {
			t.Errorf("%s: the import wrote outside its store: %v", name, left)
		}
	}
	if _, err := os.Stat("/tmp/edgeos-escape"); err == nil {
		t.Error("an absolute path in an archive was written")
	}
}

// TestDecompressionBomb: an archive that grows far beyond its size is
// refused while it is read, before the disk fills.
func TestDecompressionBomb(t *testing.T) {
	bomb := gz(t, tarOf(t, entry{name: "zeros", data: make([]byte, 8<<20)}))
	_, err := importArchive(t, bomb, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "decompresses to more than") {
		t.Fatalf("8 MiB of zeros in %d bytes of gzip, with a 1 MiB floor: %v", len(bomb), err)
	}
	// the same content in its plain form is as large as its file: read
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.tar")
	if err := os.WriteFile(plain, tarOf(t, entry{name: "zeros", data: make([]byte, 8<<20)}), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := open(plain, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("an uncompressed archive was bounded: %v", err)
	}
}

// FuzzImportArchive: no archive ends the process or writes outside the
// content store.
func FuzzImportArchive(f *testing.F) {
	f.Add(ociArchive(f))
	f.Add(gz(f, ociArchive(f)))
	for _, data := range hostile(f) {
		f.Add(data)
	}
	// one store for the whole run, as containerd keeps one
	dir := f.TempDir()
	store, err := local.NewStore(filepath.Join(dir, "content"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = importInto(t, store, dir, data, 1<<20)
		if left := outside(t, dir); len(left) > 0 {
			t.Fatalf("the import wrote outside its store: %v", left)
		}
	})
}
