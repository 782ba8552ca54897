package ingress

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Ports are where a node's proxy listens.
type Ports struct{ HTTP, HTTPS int }

// listeners are the proxy's HTTP and HTTPS servers on the node's
// addresses and on the Gateways' own addresses it holds, changed in place
// when the ports change.
type listeners struct {
	proxy *Proxy
	// ips: the node's addresses, as connections' local addresses say them
	ips []string
	tls *tls.Config
	// base is every connection's context: cancelled once the servers
	// have been shut down, it ends what shutting down does not (upgraded
	// connections)
	base    context.Context
	running map[string]*http.Server
	// secure: the addresses serving HTTPS
	secure map[string]bool
	// ingress are the ports Ingresses are served on now
	ingress atomic.Pointer[Ports]
	wg      sync.WaitGroup
}

// graceStop bounds how long a stopping listener waits for its requests.
const graceStop = 5 * time.Second

func newListeners(base context.Context, proxy *Proxy, ips []string, defaultCert *tls.Certificate) *listeners {
	l := &listeners{proxy: proxy, base: base, running: map[string]*http.Server{}, secure: map[string]bool{}}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			ip = a.String()
		}
		l.ips = append(l.ips, ip)
	}
	l.ingress.Store(&Ports{})
	l.tls = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			at := localOf(hello.Conn.LocalAddr())
			if c := proxy.Table().CertificateOn(at, hello.ServerName, l.servesIngress(at)); c != nil {
				return c, nil
			}
			return defaultCert, nil
		},
	}
	return l
}

// servesIngress: Ingresses are served at a node's address on their ports
// (a Gateway's own address serves its listeners only).
func (l *listeners) servesIngress(at Local) bool {
	p := l.ingress.Load()
	return at.Port != 0 && (at.Port == p.HTTP || at.Port == p.HTTPS) && slices.Contains(l.ips, at.Addr)
}

// set listens on exactly the addresses of the Ingresses' ports and of the
// Gateway listeners' (by address and port: whether HTTPS; Addr "" is the
// node's addresses), keeping the servers already listening on them. An
// Ingress port's protocol is the Ingress's. Addresses it cannot listen on
// are reported; the others serve.
func (l *listeners) set(ports Ports, gateway map[Local]bool) error {
	want := map[string]bool{}
	shared := map[int]bool{}
	for at, secure := range gateway {
		if at.Addr == "" {
			shared[at.Port] = secure
		} else {
			want[net.JoinHostPort(at.Addr, strconv.Itoa(at.Port))] = secure
		}
	}
	if ports.HTTP > 0 {
		shared[ports.HTTP] = false
	}
	if ports.HTTPS > 0 {
		shared[ports.HTTPS] = true
	}
	for _, ip := range l.ips {
		for port, secure := range shared {
			want[net.JoinHostPort(ip, strconv.Itoa(port))] = secure
		}
	}
	l.ingress.Store(&ports)
	for addr, srv := range l.running {
		if secure, ok := want[addr]; !ok || secure != l.secure[addr] {
			delete(l.running, addr)
			delete(l.secure, addr)
			l.wg.Go(func() { shutdown(srv) })
		}
	}
	var errs []error
	for _, addr := range slices.Sorted(maps.Keys(want)) {
		if l.running[addr] != nil {
			continue
		}
		if err := l.start(addr, want[addr]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *listeners) start(addr string, secure bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	at := localOf(ln.Addr())
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.proxy.serve(w, r, at, l.servesIngress(at))
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          debugLog(),
		BaseContext:       func(net.Listener) context.Context { return l.base },
	}
	if secure {
		srv.TLSConfig = l.tls.Clone()
	}
	l.running[addr], l.secure[addr] = srv, secure
	l.wg.Go(func() {
		var err error
		if secure {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			logrus.Errorf("Ingress on %s: %v", addr, err)
		}
	})
	scheme := "http"
	if secure {
		scheme = "https"
	}
	logrus.Infof("Ingress proxy serving %s on %s", scheme, addr)
	return nil
}

// stop shuts every server down and waits for them.
func (l *listeners) stop() {
	for addr, srv := range l.running {
		delete(l.running, addr)
		delete(l.secure, addr)
		l.wg.Go(func() { shutdown(srv) })
	}
	l.wg.Wait()
}

// shutdown lets requests under way finish, for a while, then closes.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), graceStop)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
}

// selfSigned is the certificate served to a client whose server name no
// Ingress has a certificate for, made at start and kept in memory only.
func selfSigned(nodeName string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "edgeos ingress default certificate", Organization: []string{"edgeos"}},
		DNSNames:     []string{nodeName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("default ingress certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
