package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Proxy is the HTTP handler of a node's ingress: it routes each request by
// the current table.
type Proxy struct {
	table   atomic.Pointer[Table]
	tr      *http.Transport
	buffers *bufferPool
	errLog  *log.Logger
	// requests counts the requests answered, by status class (index
	// code/100); nil counts none
	requests *[6]prometheus.Counter
}

// maxAttempts bounds the endpoints one request tries.
const maxAttempts = 3

// NewProxy makes a proxy with an empty table.
func NewProxy() *Proxy {
	p := &Proxy{
		tr: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			// bodies pass as the backend encoded them: the transport
			// must not ask for gzip and decode it on its own
			DisableCompression: true,
		},
		buffers: &bufferPool{},
		errLog:  debugLog(),
	}
	p.table.Store(newTable())
	return p
}

// Swap makes t the table for every request from now on; requests under
// way finish with the table they started with.
func (p *Proxy) Swap(t *Table) { p.table.Store(t) }

// Table is the current table.
func (p *Proxy) Table() *Table { return p.table.Load() }

// countRequests publishes the count of requests answered, by status
// class, to reg.
func (p *Proxy) countRequests(reg prometheus.Registerer) {
	vec := telemetry.CounterVec(reg, prometheus.CounterOpts{Subsystem: "ingress", Name: "requests_total",
		Help: "Requests the node's ingress proxy answered, by status class (2xx, 4xx, ...)."}, "code")
	var byClass [6]prometheus.Counter
	for class := 1; class <= 5; class++ {
		byClass[class] = vec.WithLabelValues(fmt.Sprintf("%dxx", class))
	}
	p.requests = &byClass
}

// Close drops the idle connections to endpoints.
func (p *Proxy) Close() { p.tr.CloseIdleConnections() }

// ServeHTTP answers by the Ingresses' routes alone (no port's Gateway
// listeners): the handler of tests and of callers with no port.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.serve(w, r, Local{}, true) }

// serve answers a request that came in at an address and port: by the
// Gateway listeners there first, then, if it is an Ingress port of a
// node's address, by the Ingresses.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, at Local, ingress bool) {
	if p.requests != nil {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if class := sw.status / 100; class >= 1 && class <= 5 {
				p.requests[class].Inc()
			}
		}()
		w = sw
	}
	table := p.table.Load()
	if rule := table.GatewayRule(at, r); rule != nil {
		p.act(w, r, rule, at.Port)
		return
	}
	if !ingress {
		http.Error(w, "no route for this host and path", http.StatusNotFound)
		return
	}
	p.toTarget(w, r, table.Route(r.Host, r.URL.Path))
}

// toTarget sends a request to a target's endpoints, or answers why it
// cannot: 404 without a target, 503 without endpoints.
func (p *Proxy) toTarget(w http.ResponseWriter, r *http.Request, target *Target) {
	switch {
	case target == nil:
		http.Error(w, "no route for this host and path", http.StatusNotFound)
		return
	case len(target.Endpoints()) == 0:
		why := target.Why
		if why == "" {
			why = "no ready endpoint for " + target.Name
		}
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	target.proxyOnce.Do(func() { target.proxy = p.reverseProxy(target) })
	target.proxy.ServeHTTP(w, r)
}

// statusWriter notes the status of the response. Unwrap lets the reverse
// proxy reach the connection beneath (http.ResponseController): flushes,
// and the hijack of a WebSocket upgrade.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// a 1xx may come before the final status (101: an upgrade, which
	// counts as itself)
	if w.status < 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reverseProxy sends to target's endpoints: one per target, made at its
// first request, so that a request carries nothing extra to find them.
func (p *Proxy) reverseProxy(target *Target) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// the endpoint is chosen per attempt by the balancer; the
			// backend sees the client's Host
			pr.Out.URL.Scheme = "http"
			pr.SetXForwarded()
		},
		Transport:  &balancer{next: p.tr, target: target},
		BufferPool: p.buffers,
		ErrorLog:   p.errLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, context.Canceled) {
				logrus.Debugf("Ingress: %s %s%s: %v", r.Method, r.Host, r.URL.Path, err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				// a route's timeout
				http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
				return
			}
			http.Error(w, "bad gateway", http.StatusBadGateway)
		},
	}
}

// bufferPool lends the buffers bodies are copied through.
type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

// balancer sends a request to one of its target's endpoints, round robin,
// and to the next one when the connection to an endpoint cannot be made:
// nothing of the request was sent then, so any request may be retried.
type balancer struct {
	next   http.RoundTripper
	target *Target
}

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	eps := b.target.Endpoints()
	start := b.target.Start()
	var body *heldBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &heldBody{rc: req.Body}
	}
	var err error
	// req is the ReverseProxy's own copy, made for this request: each
	// attempt points it at another endpoint
	for i := 0; i < len(eps) && i < maxAttempts; i++ {
		req.URL.Host = eps[(start+i)%len(eps)]
		if body != nil {
			req.Body = body
		}
		var resp *http.Response
		resp, err = b.next.RoundTrip(req)
		if err == nil || !refused(err) || (body != nil && body.started()) {
			return resp, err
		}
		logrus.Debugf("Ingress: %s: %v; trying the next endpoint", b.target.Name, err)
	}
	return nil, err
}

// refused reports whether err is a failure to connect, before anything
// was sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// heldBody is a request body shared by the attempts: the transport closes
// the body it is given even when it fails to connect, which must not end
// the body for the next attempt. The server closes the real one when the
// request ends.
type heldBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (h *heldBody) Read(p []byte) (int, error) {
	h.read.Store(true)
	return h.rc.Read(p)
}

func (h *heldBody) Close() error { return nil }

func (h *heldBody) started() bool { return h.read.Load() }

// debugLog sends what net/http logs (a client that went away, a failed
// TLS handshake) to the debug level: clients on the network must not be
// able to fill the node's log.
func debugLog() *log.Logger { return log.New(debugWriter{}, "", 0) }

type debugWriter struct{}

func (debugWriter) Write(p []byte) (int, error) {
	logrus.Debugf("Ingress: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}
