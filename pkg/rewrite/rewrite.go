// Package rewrite is the node-local proxy that applies registries.yaml's
// repository rewrites (k3s's `rewrite`), which containerd upstream lacks:
// containerd's registry hosts send the endpoints of a mirror with
// rewrites here, on loopback, and the proxy asks the endpoint for the
// rewritten repository, with the TLS settings and credentials the file
// gives its host. Only containerd may use it: each request must carry the
// secret of this start, which only containerd's root-only registry hosts
// hold, so that no other local process pulls with the node's credentials.
// containerd verifies every digest of what comes back.
package rewrite

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/sirupsen/logrus"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Port is where the proxy listens, on 127.0.0.1.
const Port = 5002

// Config is the proxy's.
type Config struct {
	// Addr is 127.0.0.1:Port.
	Addr string
	// Secret is what containerd shows as its bearer token.
	Secret     string
	Registries *registries.File
}

// Proxy is the running proxy.
type Proxy struct{ cfg Config }

// New prepares the proxy; Run serves.
func New(cfg Config) *Proxy { return &Proxy{cfg: cfg} }

func (p *Proxy) Name() string { return "registry-rewrite" }

// URL is where containerd reaches the proxy.
func (c Config) URL() string { return "http://" + c.Addr }

// Run serves until ctx ends; it is ready once it listens.
func (p *Proxy) Run(ctx context.Context, ready func()) error {
	h, err := newHandler(p.cfg)
	if err != nil {
		return fmt.Errorf("registry rewrite: %w", err)
	}
	ln, err := net.Listen("tcp", p.cfg.Addr)
	if err != nil {
		return fmt.Errorf("registry rewrite: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logrus.Errorf("Registry rewrite: %v", err)
		}
	})
	ready()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// handler serves /<registry>/<index>/<repository>/(manifests|blobs)/<ref>.
type handler struct {
	secret string
	routes map[string]route // by registries.Route.Path
}

type route struct {
	registries.Route
	client *auth.Client
}

func newHandler(cfg Config) (*handler, error) {
	h := &handler{secret: cfg.Secret, routes: map[string]route{}}
	cache := auth.NewCache()
	for _, r := range cfg.Registries.Routes() {
		tlsCfg, err := tlsConfig(r.Config.TLS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Host, err)
		}
		c := &auth.Client{
			Client: &http.Client{Transport: &http.Transport{
				Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg,
				DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
				TLSHandshakeTimeout:   10 * time.Second,
				ResponseHeaderTimeout: time.Minute,
				IdleConnTimeout:       time.Minute,
			}},
			Cache:  cache,
			Header: http.Header{"User-Agent": {"edgeos-registry-rewrite"}},
		}
		if a := r.Config.Auth; a != nil {
			cred, err := credential(*a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.Host, err)
			}
			c.Credential = auth.StaticCredential(r.Host, cred)
		}
		h.routes[r.Path()] = route{Route: r, client: c}
	}
	return h, nil
}

// credential is registries.yaml's auth as oras's client takes it.
func credential(a registries.Auth) (auth.Credential, error) {
	if a.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(a.Auth)
		user, pass, ok := strings.Cut(string(b), ":")
		if err != nil || !ok {
			return auth.Credential{}, errors.New("auth is not base64 of user:password")
		}
		return auth.Credential{Username: user, Password: pass}, nil
	}
	return auth.Credential{Username: a.Username, Password: a.Password, RefreshToken: a.IdentityToken}, nil
}

func tlsConfig(t *registries.TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t == nil {
		return cfg, nil
	}
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		// added to the system's, as containerd does: a token service
		// elsewhere keeps its public certificate
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// hopHeaders are not passed on.
var hopHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Www-Authenticate": true, "Upgrade": true, "Trailer": true}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	want := "Bearer " + h.secret
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
		http.Error(w, "only this node's containerd pulls through here", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "pulls only", http.StatusMethodNotAllowed)
		return
	}
	// /<registry>/<index>/<repository>/(manifests|blobs)/<ref>
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 {
		http.NotFound(w, r)
		return
	}
	rt, ok := h.routes["/"+parts[0]+"/"+parts[1]]
	if _, err := strconv.Atoi(parts[1]); !ok || err != nil {
		http.NotFound(w, r)
		return
	}
	repo, kind, ref, ok := split(parts[2])
	if !ok {
		http.NotFound(w, r)
		return
	}
	target := rt.Rewrite(repo)
	if !registries.ValidRepository(target) {
		logrus.Warnf("Registry rewrite: %s rewrites %s to %q, not a repository name", rt.Registry, repo, target)
		http.NotFound(w, r)
		return
	}
	u := *rt.Root
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + target + "/" + kind + "/" + ref
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for _, k := range []string{"Accept", "Range", "If-None-Match"} {
		if v := r.Header.Values(k); len(v) > 0 {
			out.Header[k] = v
		}
	}
	resp, err := rt.client.Do(out)
	if err != nil {
		logrus.Debugf("Registry rewrite: %s %s: %v", r.Method, u.Redacted(), err)
		http.Error(w, "the endpoint did not answer", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if !hopHeaders[k] {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, resp.Body)
	}
}

// split cuts <repository>/(manifests|blobs)/<ref> at the last kind.
func split(p string) (repo, kind, ref string, ok bool) {
	for _, k := range []string{"manifests", "blobs"} {
		if i := strings.LastIndex(p, "/"+k+"/"); i > 0 {
			repo, ref = p[:i], p[i+len(k)+2:]
			return repo, k, ref, registries.ValidRepository(repo) && ref != "" && !strings.Contains(ref, "/")
		}
	}
	return "", "", "", false
}
