package images

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestArchiveNames(t *testing.T) {
	for name, want := range map[string]bool{
		"app.tar": true, "app.tar.gz": true, "app.tgz": true, "app.tar.zst": true,
		"app.zip": false, "notes.txt": false, "app.tar.partial": false,
	} {
		if Archive(name) != want {
			t.Errorf("Archive(%q) = %v", name, !want)
		}
	}
}

// TestOpenByContent: the compression is recognised from the bytes, so a
// misnamed file still reads.
func TestOpenByContent(t *testing.T) {
	payload := bytes.Repeat([]byte("layer data "), 1000)
	var gz, zst bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(payload)
	zw.Close()
	enc, _ := zstd.NewWriter(&zst)
	enc.Write(payload)
	enc.Close()
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"plain.tar":          payload,
		"gzip.tar.gz":        gz.Bytes(),
		"zstd.tar.zst":       zst.Bytes(),
		"misnamed-zstd.tar":  zst.Bytes(),
		"misnamed-plain.tgz": payload,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: read %d bytes, err %v", name, len(got), err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
	}
}
