package pause

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestArchiveMatches checks the generated archive against this package:
// its name is Image and it is built for the architecture edgeos is.
func TestArchiveMatches(t *testing.T) {
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(Archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, files["index.json"])
	}
	m := idx.Manifests[0]
	if got := m.Annotations["io.containerd.image.name"]; got != Image {
		t.Fatalf("archive names %q, package says %q: regenerate with go generate ./pkg/pause", got, Image)
	}
	if m.Platform == nil || m.Platform.Architecture != runtime.GOARCH {
		t.Fatalf("archive is for %v, edgeos for %s: regenerate with the right GOARCH", m.Platform, runtime.GOARCH)
	}
}
