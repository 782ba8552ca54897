package mirror

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// imageMap is a node's image names, as containerd's image store holds
// them.
type imageMap map[string]ocispec.Descriptor

func (m imageMap) Get(_ context.Context, name string) (images.Image, error) {
	d, ok := m[name]
	if !ok {
		return images.Image{}, fmt.Errorf("image %q: %w", name, errdefs.ErrNotFound)
	}
	return images.Image{Name: name, Target: d}, nil
}

// store writes blobs into containerd's own local content store.
func store(t *testing.T) content.Store {
	t.Helper()
	cs, err := local.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func put(t *testing.T, cs content.Store, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(context.Background(), cs, d.Digest.String(), bytes.NewReader(b), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestServe(t *testing.T) {
	cs := store(t)
	// more than two of the chunks the store is read in
	big := make([]byte, 2*chunkSize+12345)
	rand.Read(big)
	layer := put(t, cs, ocispec.MediaTypeImageLayerGzip, big)
	config := put(t, cs, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
	mb, _ := json.Marshal(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}})
	manifest := put(t, cs, ocispec.MediaTypeImageManifest, mb)
	// an old manifest that does not say its media type
	bare := put(t, cs, "", []byte(`{"schemaVersion":2,"manifests":[]}`))

	reg := prometheus.NewRegistry()
	h := &handler{
		images:   imageMap{"registry.example:5000/apps/echo:1": manifest, "docker.io/library/busybox:1": manifest},
		blobs:    cs,
		scope:    func(ctx context.Context) context.Context { return ctx },
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"kind", "result"}),
		bytes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bytes"}),
	}
	reg.MustRegister(h.requests, h.bytes)
	srv := httptest.NewServer(h)
	defer srv.Close()

	type want struct {
		status          int
		mediaType, body string
	}
	for _, tc := range []struct {
		method, path string
		header       http.Header
		want         want
	}{
		{"GET", "/v2/", nil, want{status: 200}},
		{"GET", "/v2/apps/echo/manifests/1?ns=registry.example:5000", nil, want{200, ocispec.MediaTypeImageManifest, string(mb)}},
		{"HEAD", "/v2/apps/echo/manifests/1?ns=registry.example:5000", nil, want{200, ocispec.MediaTypeImageManifest, ""}},
		{"GET", "/v2/library/busybox/manifests/1?ns=docker.io", nil, want{200, ocispec.MediaTypeImageManifest, string(mb)}},
		{"GET", "/v2/apps/echo/manifests/" + manifest.Digest.String(), nil, want{200, ocispec.MediaTypeImageManifest, string(mb)}},
		{"GET", "/v2/apps/echo/manifests/" + bare.Digest.String(), nil, want{200, ocispec.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[]}`}},
		{"GET", "/v2/apps/echo/blobs/" + config.Digest.String(), nil, want{200, "application/octet-stream", `{"architecture":"amd64","os":"linux"}`}},
		{"GET", "/v2/apps/echo/blobs/" + config.Digest.String(), http.Header{"Range": {"bytes=1-14"}}, want{206, "application/octet-stream", `"architecture"`}},
		{"GET", "/v2/apps/echo/blobs/" + layer.Digest.String(), nil, want{200, "application/octet-stream", string(big)}},
		{"GET", "/v2/apps/echo/blobs/" + layer.Digest.String(), http.Header{"Range": {fmt.Sprintf("bytes=%d-", chunkSize-5)}}, want{206, "application/octet-stream", string(big[chunkSize-5:])}},
		// what this node lacks, or a request it cannot place
		{"GET", "/v2/apps/echo/manifests/2?ns=registry.example:5000", nil, want{status: 404}},
		{"GET", "/v2/apps/echo/manifests/1", nil, want{status: 404}},
		{"GET", "/v2/apps/echo/manifests/1?ns=../../x", nil, want{status: 404}},
		{"GET", "/v2/apps/echo/blobs/" + digest.FromString("other").String(), nil, want{status: 404}},
		{"GET", "/v2/apps/echo/blobs/latest", nil, want{status: 404}},
		{"GET", "/v2/../etc/manifests/1?ns=docker.io", nil, want{status: 404}},
		{"GET", "/v2/Apps/manifests/1?ns=docker.io", nil, want{status: 404}},
		{"GET", "/other", nil, want{status: 404}},
		{"PUT", "/v2/apps/echo/manifests/1?ns=registry.example:5000", nil, want{status: 405}},
		{"DELETE", "/v2/apps/echo/blobs/" + config.Digest.String(), nil, want{status: 405}},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		name := tc.method + " " + tc.path
		if resp.StatusCode != tc.want.status {
			t.Errorf("%s: status %d, want %d (%s)", name, resp.StatusCode, tc.want.status, body)
			continue
		}
		if tc.want.status >= 300 || tc.path == "/v2/" {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.want.mediaType {
			t.Errorf("%s: Content-Type %q, want %q", name, got, tc.want.mediaType)
		}
		if string(body) != tc.want.body {
			t.Errorf("%s: %d bytes of body, not the %d bytes wanted", name, len(body), len(tc.want.body))
		}
		if d := resp.Header.Get("Docker-Content-Digest"); !strings.HasPrefix(d, "sha256:") {
			t.Errorf("%s: Docker-Content-Digest %q", name, d)
		}
	}
	if got := testutil.ToFloat64(h.requests.WithLabelValues("manifest", resultServed)); got != 5 {
		t.Errorf("manifests served: %v, want 5", got)
	}
	if got := testutil.ToFloat64(h.requests.WithLabelValues("blob", resultMissing)); got != 2 {
		t.Errorf("blobs missing: %v, want 2", got)
	}
	if testutil.ToFloat64(h.bytes) < float64(2*len(mb)) {
		t.Errorf("bytes served: %v", testutil.ToFloat64(h.bytes))
	}
}
