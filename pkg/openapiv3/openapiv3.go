// Package openapiv3 serves an API server's OpenAPI v3 documents, building
// each group version's document the first time a client asks for it.
package openapiv3

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	restful "github.com/emicklei/go-restful/v3"
	"github.com/munnerz/goautoneg"
	"github.com/sirupsen/logrus"
	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/apiserver/pkg/server/routes"
	openapicommon "k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/handler3"
)

// Upstream builds the document of every group version when the server
// starts and keeps it, as objects and as JSON: 30 MB of a server's PSS
// (bench/RESULTS.md) on a node nobody runs `kubectl explain` on. It could
// not build them later: the discovery document, /openapi/v3, names each
// group version's document by the SHA-512 of its JSON, and the aggregator
// reads the discovery document at start-up. edgeos names a document by what
// determines it instead: the program (its module versions and build
// settings, which fix the OpenAPI definitions) and the group version's
// routes (which resources and verbs are served). Servers running the same
// binary with the same APIs agree on the names, as upstream's do, so a
// client may fetch the discovery document from one and a group version from
// another; a document's name changes when either changes. The rest is
// upstream's protocol: a request whose hash is stale is redirected to the
// current one, a request with the current hash may be cached for good, JSON
// or protobuf by the Accept header.

// The media subtypes of a group version's document.
const (
	v3JSON                = "json"
	v3Protobuf            = "com.github.proto-openapi.spec.v3@v1.0+protobuf"
	v3ProtobufDeprecated  = "com.github.proto-openapi.spec.v3.v1.0+protobuf"
	openAPIV3Path         = "/openapi/v3"
	openAPIV3Immutability = "public, immutable"
)

// Service serves /openapi/v3 and /openapi/v3/<group version>.
type Service struct {
	root     []byte // the discovery document
	rootHash string
	started  time.Time
	docs     map[string]*v3Doc // by path: "api/v1", "apis/apps/v1"
}

// v3Doc is one group version's document, built once when first asked for.
type v3Doc struct {
	hash  string
	build func() ([]byte, error)

	mu         sync.Mutex
	json, prot []byte
}

// New describes the documents of the web services of c, an API server's
// routes; nothing is built yet.
func New(c *restful.Container, cfg *openapicommon.OpenAPIV3Config) (*Service, error) {
	program := programFingerprint()
	o := &Service{started: time.Now(), docs: map[string]*v3Doc{}}
	discovery := handler3.OpenAPIV3Discovery{Paths: map[string]handler3.OpenAPIV3DiscoveryGroupVersion{}}
	for _, ws := range c.RegisteredWebServices() {
		gv := strings.TrimPrefix(ws.RootPath(), "/")
		d := &v3Doc{hash: documentHash(program, ws), build: func() ([]byte, error) { return buildV3(ws, gv, cfg) }}
		o.docs[gv] = d
		discovery.Paths[gv] = handler3.OpenAPIV3DiscoveryGroupVersion{ServerRelativeURL: v3URL(gv, d.hash)}
	}
	root, err := json.Marshal(discovery)
	if err != nil {
		return nil, err
	}
	o.root, o.rootHash = root, fmt.Sprintf("%X", sha512.Sum512(root))
	return o, nil
}

// Register puts the handlers on the server's mux.
func (o *Service) Register(m *mux.PathRecorderMux) {
	m.HandleFunc(openAPIV3Path, o.serveDiscovery)
	m.HandlePrefix(openAPIV3Path+"/", http.HandlerFunc(o.serveDocument))
}

func (o *Service) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Etag", strconv.Quote(o.rootHash))
	w.Header().Set("Content-Type", "application/json")
	http.ServeContent(w, r, openAPIV3Path, o.started, bytes.NewReader(o.root))
}

func (o *Service) serveDocument(w http.ResponseWriter, r *http.Request) {
	gv := strings.TrimPrefix(r.URL.Path, openAPIV3Path+"/")
	d, ok := o.docs[gv]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Add("Vary", "Accept")
	subtype, ok := negotiateV3(r.Header.Get("Accept"))
	if !ok {
		w.WriteHeader(http.StatusNotAcceptable)
		return
	}
	data, err := d.get(subtype)
	if err != nil {
		logrus.Errorf("OpenAPI v3 document of %s: %v", gv, err)
		http.Error(w, "OpenAPI v3 document unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/"+subtype)
	w.Header().Set("Etag", strconv.Quote(d.hash))
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != d.hash {
			http.Redirect(w, r, v3URL(gv, d.hash), http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", openAPIV3Immutability)
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).Format(time.RFC1123))
	}
	http.ServeContent(w, r, "", o.started, bytes.NewReader(data))
}

// negotiateV3 picks JSON or protobuf from an Accept header, as upstream.
func negotiateV3(accept string) (string, bool) {
	if accept == "" {
		accept = "*/*"
	}
	for _, c := range goautoneg.ParseAccept(accept) {
		if c.Type != "application" && c.Type != "*" {
			continue
		}
		switch c.SubType {
		case "*", v3JSON:
			return v3JSON, true
		case v3Protobuf, v3ProtobufDeprecated:
			return v3Protobuf, true
		}
	}
	return "", false
}

// get returns the document as subtype, building it on first use.
func (d *v3Doc) get(subtype string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.json == nil {
		j, err := d.build()
		if err != nil {
			return nil, err
		}
		d.json = j
	}
	if subtype == v3JSON {
		return d.json, nil
	}
	if d.prot == nil {
		p, err := handler3.ToV3ProtoBinary(d.json)
		if err != nil {
			return nil, err
		}
		d.prot = p
	}
	return d.prot, nil
}

// buildV3 builds the JSON document of one web service with upstream's
// builder: routes.OpenAPI installs it on a mux of its own, which answers.
func buildV3(ws *restful.WebService, gv string, cfg *openapicommon.OpenAPIV3Config) ([]byte, error) {
	c := restful.NewContainer()
	c.Add(ws)
	m := mux.NewPathRecorderMux("openapi-v3-" + gv)
	routes.OpenAPI{V3Config: cfg}.InstallV3(c, m)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, openAPIV3Path+"/"+gv, nil)
	req.Header.Set("Accept", "application/json")
	m.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		return nil, fmt.Errorf("upstream's builder answered %d with %d bytes", rec.Code, rec.Body.Len())
	}
	return rec.Body.Bytes(), nil
}

func v3URL(gv, hash string) string {
	return openAPIV3Path + "/" + gv + "?" + url.Values{"hash": {hash}}.Encode()
}

// programFingerprint describes the program's build: the main module, every
// dependency's version and sum, and the build settings (VCS revision, flags).
func programFingerprint() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "no build info"
	}
	return bi.String()
}

// documentHash names a group version's document by the program and the
// routes of its web service.
func documentHash(program string, ws *restful.WebService) string {
	lines := make([]string, 0, len(ws.Routes()))
	for _, r := range ws.Routes() {
		params := make([]string, 0, len(r.ParameterDocs))
		for _, p := range r.ParameterDocs {
			d := p.Data()
			params = append(params, d.Name+":"+d.DataType)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %T %T %v %v %v", r.Method, r.Path, r.Operation, r.ReadSample, r.WriteSample, r.Consumes, r.Produces, params))
	}
	sort.Strings(lines)
	h := sha512.New()
	h.Write([]byte(program))
	h.Write([]byte(ws.RootPath() + "\n" + strings.Join(lines, "\n")))
	return fmt.Sprintf("%X", h.Sum(nil))
}
