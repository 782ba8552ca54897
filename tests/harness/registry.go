package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry"
	"github.com/edgeos/edgeos/pkg/pki"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Registry is an OCI registry inside the harness: distribution's own
// registry, in the test process, listening on the host's bridge address
// over TLS (a CA of its own) with basic auth, its images in memory.
type Registry struct {
	// Addr is host:port, as image names and registries.yaml hold it.
	Addr string
	// CAFile is the PEM of the CA that signed the registry's certificate.
	CAFile         string
	User, Password string
	client         *http.Client
}

// StartRegistry starts a registry on the host's bridge address at port,
// stopped when the test ends.
func (c *Cluster) StartRegistry(port int, user, password string) *Registry {
	c.t.Helper()
	dir := c.t.TempDir()
	r := &Registry{Addr: net.JoinHostPort(c.HostIP(), fmt.Sprint(port)), User: user, Password: password}
	ca, err := pki.EnsureCA(dir, "registry-ca", "harness-registry-ca")
	if err != nil {
		c.t.Fatal(err)
	}
	r.CAFile = ca.CertFile
	certFile, keyFile := filepath.Join(dir, "registry.crt"), filepath.Join(dir, "registry.key")
	leaf := pki.Leaf{CommonName: "harness-registry", IPs: []net.IP{net.ParseIP(c.HostIP())}, Server: true}
	if _, err := ca.EnsureLeaf(certFile, keyFile, leaf, time.Hour); err != nil {
		c.t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		c.t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}

	// no trace export: the registry would send spans to an OTLP collector
	// on localhost
	os.Setenv("OTEL_TRACES_EXPORTER", "none")
	cfg := &configuration.Configuration{}
	// it logs every 404 (a pusher's "is this blob there?") at level error
	cfg.Log.Level = "fatal"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Addr = r.Addr
	cfg.HTTP.TLS.Certificate, cfg.HTTP.TLS.Key = certFile, keyFile
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "harness", "path": htpasswd}}
	reg, err := registry.NewRegistry(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- reg.ListenAndServe() }()
	c.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
		<-served
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	r.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
	// up once the API answers (401 without credentials)
	for i := 0; ; i++ {
		resp, err := r.client.Get("https://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-served:
			c.t.Fatalf("harness registry: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if i > 300 {
			c.t.Fatalf("harness registry at %s does not answer: %v", r.Addr, err)
		}
	}
	return r
}

// Push copies the image of an OCI archive (one image, tag as the
// archive's ref name says) to repo:tag in the registry.
func (r *Registry) Push(archive []byte, archiveTag, repo, tag string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("harness-push-%d.tar", time.Now().UnixNano()))
	if err := os.WriteFile(path, archive, 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	src, err := oci.NewFromTar(ctx, path)
	if err != nil {
		return err
	}
	dst, err := remote.NewRepository(r.Addr + "/" + repo)
	if err != nil {
		return err
	}
	dst.Client = &auth.Client{
		Client:     &http.Client{Transport: retry.NewTransport(r.client.Transport)},
		Credential: auth.StaticCredential(r.Addr, auth.Credential{Username: r.User, Password: r.Password}),
	}
	_, err = oras.Copy(ctx, src, archiveTag, dst, tag, oras.DefaultCopyOptions)
	return err
}

// LimitHostLink shapes what the host sends to the nodes (the harness
// registry's answers, the fake upstream DNS) to mbit Mbit/s, as a thin
// link to outside would; traffic between nodes, bridged, is not shaped.
// 0 lifts the limit. The bridge, and so the limit, goes with the cluster.
func (c *Cluster) LimitHostLink(mbit int) {
	c.t.Helper()
	if mbit == 0 {
		c.must("tc", "qdisc", "del", "dev", c.bridge, "root")
		return
	}
	c.must("tc", "qdisc", "replace", "dev", c.bridge, "root", "tbf", "rate", fmt.Sprintf("%dmbit", mbit), "burst", "64kb", "latency", "400ms")
}
