package ingress

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// act answers a request by a Gateway API rule that came to port.
func (p *Proxy) act(w http.ResponseWriter, r *http.Request, rule *Rule, port int) {
	a := rule.Action
	path := cleanPath(r.URL.Path)
	if a.Redirect != nil {
		http.Redirect(w, r, a.Redirect.location(r, port, path, &rule.Match), a.Redirect.code())
		return
	}
	b := a.pick()
	if b == nil || b.Target == nil {
		why := a.Why
		if why == "" {
			why = "no usable backend"
		}
		http.Error(w, why, http.StatusInternalServerError)
		return
	}
	if !a.ResponseHeaders.empty() {
		w = &headerWriter{ResponseWriter: w, changes: &a.ResponseHeaders}
	}
	if d := a.deadline(); d > 0 && !upgrading(r) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if !a.RequestHeaders.empty() || a.Rewrite != nil {
		r = r.Clone(r.Context())
		a.RequestHeaders.apply(r.Header)
		if rw := a.Rewrite; rw != nil {
			if rw.Hostname != "" {
				r.Host = rw.Hostname
			}
			if rw.Path != nil {
				r.URL.Path = rw.Path.apply(path, &rule.Match)
				r.URL.RawPath = ""
			}
		}
	}
	p.toTarget(w, r, b.Target)
}

// deadline is the shorter of the rule's timeouts; 0 for none. The proxy
// tries a backend once (or the next only where a connection could not be
// made), so the backend's timeout bounds the request too.
func (a *Action) deadline() time.Duration {
	d := a.Timeout
	if b := a.BackendTimeout; b > 0 && (d == 0 || b < d) {
		d = b
	}
	return d
}

// upgrading: the request asks to switch protocols (WebSocket), after
// which the connection lives as long as its ends want.
func upgrading(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "Upgrade")
}

// pick chooses a backend by weight; nil when every weight is 0.
func (a *Action) pick() *Backend {
	total := 0
	for _, b := range a.Backends {
		total += b.Weight
	}
	if total <= 0 {
		return nil
	}
	n := rand.IntN(total)
	for i := range a.Backends {
		if n < a.Backends[i].Weight {
			return &a.Backends[i]
		}
		n -= a.Backends[i].Weight
	}
	return nil
}

func (rd *Redirect) code() int {
	if rd.Code == 0 {
		return http.StatusFound
	}
	return rd.Code
}

// location is where a redirect sends a request that came to port. The
// port is the redirect's, else the new scheme's own, else the one the
// request came to; a scheme's own port is left out.
func (rd *Redirect) location(r *http.Request, port int, path string, m *Match) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host := normalizeHost(r.Host)
	if rd.Hostname != "" {
		host = rd.Hostname
	}
	switch {
	case rd.Port != 0:
		port = rd.Port
	case rd.Scheme != "":
		port = defaultPort(scheme)
	}
	if port != 0 && port != defaultPort(scheme) {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	u := url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if rd.Path != nil {
		u.Path, u.RawPath = rd.Path.apply(path, m), ""
	}
	return u.String()
}

func defaultPort(scheme string) int {
	if strings.EqualFold(scheme, "https") {
		return 443
	}
	return 80
}

// headerWriter changes the response's headers as it is sent.
type headerWriter struct {
	http.ResponseWriter
	changes *HeaderChanges
	done    bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.done && code >= 200 {
		w.done = true
		h := w.Header()
		w.changes.apply(h)
		for _, name := range w.changes.Remove {
			// a name present without values keeps net/http from adding
			// its own (a sniffed Content-Type, the Date)
			h[http.CanonicalHeaderKey(name)] = nil
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
