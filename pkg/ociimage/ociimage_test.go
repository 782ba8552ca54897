package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func testImage() Image {
	return Image{
		Name:       "edgeos.test/echo:1",
		Arch:       "amd64",
		Files:      []File{{Path: "/echo", Mode: 0o755, Data: []byte("#!fake binary")}, {Path: "/etc/echo/greeting", Mode: 0o644, Data: []byte("hi")}},
		Entrypoint: []string{"/echo"},
		Env:        []string{"PORT=8080"},
	}
}

// TestContainerdImportsIt reads the archive with containerd's own importer
// into a real content store, the way `ctr import` and edgeos's air-gap
// import do.
func TestContainerdImportsIt(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := local.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	idxDesc, err := archive.ImportIndex(ctx, store, &buf)
	if err != nil {
		t.Fatalf("containerd refuses the archive: %v", err)
	}
	var idx ocispec.Index
	readJSON(t, ctx, store, idxDesc, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations[images.AnnotationImageName] != "edgeos.test/echo:1" {
		t.Fatalf("index %+v does not name the image", idx.Manifests)
	}
	m, err := images.Manifest(ctx, store, idx.Manifests[0], platforms.Only(platforms.MustParse("linux/amd64")))
	if err != nil {
		t.Fatalf("manifest for linux/amd64: %v", err)
	}
	var cfg ocispec.Image
	readJSON(t, ctx, store, m.Config, &cfg)
	if cfg.Config.Entrypoint[0] != "/echo" || cfg.Config.Env[0] != "PORT=8080" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	layer, err := content.ReadBlob(ctx, store, m.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, layer)
	if files["echo"] != "#!fake binary" || files["etc/echo/greeting"] != "hi" {
		t.Fatalf("layer holds %v", files)
	}
	if _, ok := files["etc/echo/"]; !ok {
		t.Fatal("layer lacks the parent directories")
	}
}

func TestReproducible(t *testing.T) {
	var a, b bytes.Buffer
	if err := Write(&a, testImage()); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes of the same image differ")
	}
}

func TestBadInput(t *testing.T) {
	img := testImage()
	img.Files = []File{{Path: "relative/path", Data: []byte("x")}}
	if err := Write(io.Discard, img); err == nil {
		t.Error("a relative path was accepted")
	}
	if err := Write(io.Discard, Image{}); err == nil {
		t.Error("an empty image was accepted")
	}
}

func readJSON(t *testing.T, ctx context.Context, store content.Store, desc ocispec.Descriptor, v any) {
	t.Helper()
	b, err := content.ReadBlob(ctx, store, desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func untar(t *testing.T, gz []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}
