package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/transport"
)

// ScraperConfig is what the scraper needs: how often to read, and the
// credentials the apiserver reaches kubelets with.
type ScraperConfig struct {
	Resolution time.Duration
	// KubeletCA verifies kubelets' serving certificates; ClientCert and
	// ClientKey are files, read again when they are renewed.
	KubeletCA, ClientCert, ClientKey string
}

// Scraper reads every node's /metrics/resource from its kubelet once per
// resolution into a Store. A node that does not answer drops out of the
// Store until it does.
type Scraper struct {
	cfg   ScraperConfig
	nodes kubernetes.Interface
	store *Store
}

// NewScraper returns the scraper component.
func NewScraper(cfg ScraperConfig, cs kubernetes.Interface, store *Store) *Scraper {
	return &Scraper{cfg: cfg, nodes: cs, store: store}
}

func (*Scraper) Name() string { return "metrics" }

// scrapers at once: a few slow kubelets do not hold up the rest
const parallel = 8

// the largest body of /metrics/resource read: a node with thousands of
// containers stays well under it
const maxBody = 16 << 20

func (s *Scraper) Run(ctx context.Context, ready func()) error {
	tlsCfg, err := transport.TLSConfigFor(&transport.Config{TLS: transport.TLSConfig{
		CAFile: s.cfg.KubeletCA, CertFile: s.cfg.ClientCert, KeyFile: s.cfg.ClientKey, ReloadTLSFiles: true,
	}})
	if err != nil {
		return fmt.Errorf("kubelet client credentials: %w", err)
	}
	tr := &http.Transport{
		TLSClientConfig:     tlsCfg,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		// one connection per kubelet, kept from one scrape to the next
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     3 * s.cfg.Resolution,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: min(s.cfg.Resolution, 10*time.Second)}
	ready()

	down := map[string]*outage{}
	tick := time.NewTicker(s.cfg.Resolution)
	defer tick.Stop()
	for {
		s.scrapeAll(ctx, client, down)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// outage is a node whose kubelet has not answered since since; told: the
// log said so.
type outage struct {
	since time.Time
	told  bool
}

// quietFor is how long a kubelet may not answer before the log says so: a
// node's kubelet comes up after the server when both start together, and
// its Node object is there from the run before.
const quietFor = 30 * time.Second

// scrapeAll reads every node once and records what each answered. A node
// that does not answer drops out at once; down holds those, so that an
// outage is logged once it lasted quietFor, and its end, not every time.
func (s *Scraper) scrapeAll(ctx context.Context, client *http.Client, down map[string]*outage) {
	nodes, err := s.nodes.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		if ctx.Err() == nil {
			logrus.Warnf("Resource metrics: listing nodes: %v", err)
		}
		return
	}
	listed := map[string]bool{}
	type result struct {
		node string
		sc   Scrape
		err  error
	}
	results := make(chan result, len(nodes.Items))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range nodes.Items {
		n := &nodes.Items[i]
		listed[n.Name] = true
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sc, err := scrapeNode(ctx, client, n)
			results <- result{n.Name, sc, err}
		})
	}
	wg.Wait()
	close(results)
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	for r := range results {
		o := down[r.node]
		switch {
		case r.err != nil:
			s.store.Forget(r.node)
			if o == nil {
				o = &outage{since: now}
				down[r.node] = o
			}
			if !o.told && now.Sub(o.since) >= quietFor {
				logrus.Warnf("Resource metrics: node %s left out until its kubelet answers: %v", r.node, r.err)
				o.told = true
			}
		default:
			s.store.Record(r.node, r.sc)
			if o != nil && o.told {
				logrus.Infof("Resource metrics: node %s answers again", r.node)
			}
			delete(down, r.node)
		}
	}
	for _, n := range s.store.Known() {
		if !listed[n] {
			s.store.Forget(n)
		}
	}
	for n := range down {
		if !listed[n] {
			delete(down, n)
		}
	}
}

func scrapeNode(ctx context.Context, client *http.Client, n *corev1.Node) (Scrape, error) {
	addr := kubeletAddress(n)
	if addr == "" {
		return Scrape{}, fmt.Errorf("no address")
	}
	path, err := resourcePath(n)
	if err != nil {
		return Scrape{}, err
	}
	url := "https://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Scrape{}, err
	}
	// anything else second: an endpoint other than the kubelet's (kwok's)
	// may not name its type
	req.Header.Set("Accept", "text/plain;version=0.0.4,*/*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return Scrape{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Scrape{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return Parse(io.LimitReader(resp.Body, maxBody), time.Now())
}

// ResourcePathAnnotation names another path for a node's resource
// metrics than the kubelet's: metrics-server reads it too, and kwok sets
// it on the nodes it simulates (all served on one port).
const ResourcePathAnnotation = "metrics.k8s.io/resource-metrics-path"

const resourceSuffix = "/metrics/resource"

// resourcePath is the path of a node's resource metrics: the kubelet's,
// or the annotation's where set. An annotation may only move the
// endpoint, not name another of the kubelet's (its logs, say), which the
// scraper's credentials could read.
func resourcePath(n *corev1.Node) (string, error) {
	p, ok := n.Annotations[ResourcePathAnnotation]
	if !ok {
		return resourceSuffix, nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, resourceSuffix) || path.Clean(p) != p || strings.ContainsAny(p, "?#%\\") {
		return "", fmt.Errorf("annotation %s %q: want a clean absolute path ending in %s", ResourcePathAnnotation, p, resourceSuffix)
	}
	return p, nil
}

// kubeletAddress is where the apiserver reaches a node's kubelet: the
// first of its addresses in the apiserver's preferred order
// (--kubelet-preferred-address-types), at the port the node reports.
func kubeletAddress(n *corev1.Node) string {
	port := int(n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = 10250
	}
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range n.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(port))
			}
		}
	}
	return ""
}
