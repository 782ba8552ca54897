package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Images finds an image by name ("registry.example/app:1").
type Images interface {
	Get(ctx context.Context, name string) (images.Image, error)
}

// Blobs reads content by digest.
type Blobs interface {
	Info(ctx context.Context, dgst digest.Digest) (content.Info, error)
	ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error)
}

// handler serves the read side of the OCI distribution API from a node's
// image store: manifests by tag (the registry named by containerd's ns
// query parameter, as containerd sends it to mirrors) or digest, and blobs
// by digest. Pullers verify every digest themselves.
type handler struct {
	images Images
	blobs  Blobs
	// scope binds each request to the store's namespace.
	scope    func(context.Context) context.Context
	requests *prometheus.CounterVec // kind, result
	bytes    prometheus.Counter
}

// Request results, as counted.
const (
	resultServed  = "served"
	resultMissing = "missing"
	resultError   = "error"
)

// maxManifest bounds what is read of a manifest to learn its media type.
const maxManifest = 4 << 20

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apiError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "this mirror only serves pulls")
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		w.WriteHeader(http.StatusOK)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		apiError(w, http.StatusNotFound, "NAME_UNKNOWN", "not a registry path")
		return
	}
	ctx := h.scope(r.Context())
	if name, ref, ok := cut(rest, "/manifests/"); ok {
		h.manifest(ctx, w, r, name, ref)
		return
	}
	if name, ref, ok := cut(rest, "/blobs/"); ok {
		h.blob(ctx, w, r, name, ref)
		return
	}
	apiError(w, http.StatusNotFound, "NAME_UNKNOWN", "not a manifest or blob path")
}

// cut splits name/<sep>ref at the last sep; name must be a repository.
func cut(path, sep string) (name, ref string, ok bool) {
	i := strings.LastIndex(path, sep)
	if i <= 0 {
		return "", "", false
	}
	name, ref = path[:i], path[i+len(sep):]
	return name, ref, registries.ValidRepository(name)
}

func (h *handler) manifest(ctx context.Context, w http.ResponseWriter, r *http.Request, name, ref string) {
	var desc ocispec.Descriptor
	registry := r.URL.Query().Get("ns")
	image := name + "@" + ref
	if registries.ValidHost(registry) {
		image = registry + "/" + image
	}
	if dgst, err := digest.Parse(ref); err == nil {
		info, err := h.blobs.Info(ctx, dgst)
		if err != nil {
			h.failed(w, "manifest", ref, err)
			return
		}
		desc = ocispec.Descriptor{Digest: dgst, Size: info.Size}
		if desc.MediaType, err = h.mediaType(ctx, desc); err != nil {
			h.failed(w, "manifest", ref, err)
			return
		}
	} else {
		if !registries.ValidTag(ref) || !registries.ValidHost(registry) {
			h.count("manifest", resultMissing)
			apiError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "a tag is asked for with the registry in the ns parameter")
			return
		}
		image = registry + "/" + name + ":" + ref
		img, err := h.images.Get(ctx, image)
		if err != nil {
			h.failed(w, "manifest", image, err)
			return
		}
		desc = img.Target
	}
	if h.serve(ctx, w, r, "manifest", desc) && r.Method == http.MethodGet {
		logrus.Infof("Registry mirror: served %s to node %s", image, clientNode(r))
	}
}

func (h *handler) blob(ctx context.Context, w http.ResponseWriter, r *http.Request, _, ref string) {
	dgst, err := digest.Parse(ref)
	if err != nil {
		h.count("blob", resultMissing)
		apiError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blobs are asked for by digest")
		return
	}
	info, err := h.blobs.Info(ctx, dgst)
	if err != nil {
		h.failed(w, "blob", ref, err)
		return
	}
	h.serve(ctx, w, r, "blob", ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dgst, Size: info.Size})
}

// serve writes desc's content (ranges too: a puller resumes a cut blob
// with one) and reports whether it did.
func (h *handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, kind string, desc ocispec.Descriptor) bool {
	ra, err := h.blobs.ReaderAt(ctx, desc)
	if err != nil {
		h.failed(w, kind, desc.Digest.String(), err)
		return false
	}
	defer ra.Close()
	w.Header().Set("Content-Type", desc.MediaType)
	w.Header().Set("Docker-Content-Digest", desc.Digest.String())
	w.Header().Set("ETag", `"`+desc.Digest.String()+`"`)
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, io.NewSectionReader(&chunked{ra: ra}, 0, ra.Size()))
	h.count(kind, resultServed)
	h.bytes.Add(float64(cw.n))
	return true
}

// mediaType reads a manifest or index named by digest for the media type
// it declares (or implies, where an old one leaves it out).
func (h *handler) mediaType(ctx context.Context, desc ocispec.Descriptor) (string, error) {
	if desc.Size > maxManifest {
		return "", fmt.Errorf("%s: %d bytes is too large for a manifest: %w", desc.Digest, desc.Size, errdefs.ErrNotFound)
	}
	b, err := content.ReadBlob(ctx, h.blobs, desc)
	if err != nil {
		return "", err
	}
	var m struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Config    json.RawMessage   `json:"config"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("%s is not a manifest: %w", desc.Digest, errdefs.ErrNotFound)
	}
	switch {
	case m.MediaType != "":
		return m.MediaType, nil
	case m.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case m.Config != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", fmt.Errorf("%s is not a manifest: %w", desc.Digest, errdefs.ErrNotFound)
}

// failed answers a request the store could not: 404 for what this node
// does not hold (the puller asks its next host), 500 otherwise.
func (h *handler) failed(w http.ResponseWriter, kind, what string, err error) {
	code, api := "MANIFEST_UNKNOWN", "manifest"
	if kind == "blob" {
		code, api = "BLOB_UNKNOWN", "blob"
	}
	if errors.Is(err, errdefs.ErrNotFound) {
		h.count(kind, resultMissing)
		apiError(w, http.StatusNotFound, code, api+" not on this node")
		return
	}
	h.count(kind, resultError)
	logrus.Debugf("Registry mirror: %s %s: %v", kind, what, err)
	apiError(w, http.StatusInternalServerError, "UNKNOWN", "reading the node's store failed")
}

func (h *handler) count(kind, result string) { h.requests.WithLabelValues(kind, result).Inc() }

// apiError answers with the distribution API's error body.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// clientNode is the node name of the client certificate.
func clientNode(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "?"
	}
	return strings.TrimPrefix(r.TLS.PeerCertificates[0].Subject.CommonName, "system:node:")
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// chunkSize is how much of a blob is read from the store at once.
const chunkSize = 512 << 10

// chunked reads the store a chunk at a time: each read of containerd's
// client is a call to containerd, and HTTP's copy asks for 32 KiB at a
// time. It is used by one request, from one goroutine.
type chunked struct {
	ra  content.ReaderAt
	buf []byte
	off int64 // where buf starts in the blob
}

func (c *chunked) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos < c.off || pos >= c.off+int64(len(c.buf)) {
			if err := c.fill(pos); err != nil {
				return n, err
			}
		}
		n += copy(p[n:], c.buf[pos-c.off:])
	}
	return n, nil
}

// fill reads the chunk that starts at off.
func (c *chunked) fill(off int64) error {
	if c.buf == nil {
		c.buf = make([]byte, 0, chunkSize)
	}
	m, err := c.ra.ReadAt(c.buf[:cap(c.buf)], off)
	c.buf, c.off = c.buf[:m], off
	if m > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}
