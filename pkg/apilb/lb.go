package apilb

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Config is what the load balancer is told.
type Config struct {
	// Listen is the loopback host:port the node's clients use.
	Listen string
	// Server is --server's host:port.
	Server string
	// NodeName spreads the nodes over the servers.
	NodeName string
	// StateFile keeps the servers learned, for the next start.
	StateFile string
	// Discover reports the cluster's servers (host:port) each time they
	// change, until ctx ends; nil: only --server and the kept ones.
	Discover func(ctx context.Context, found func(servers []string)) error
	// Check tells whether a server serves (nil error); nil: it accepts a
	// TCP connection.
	Check func(ctx context.Context, server string) error
	// CheckInterval is how often every known server is checked, to see a
	// dead one without waiting for its connections to fail, and a
	// returning one (zero: 5 s).
	CheckInterval time.Duration
	// DialTimeout bounds one dial of a server (zero: 3 s).
	DialTimeout time.Duration
}

// LB is the running load balancer.
type LB struct {
	cfg Config

	mu         sync.Mutex
	servers    []string // learned or kept, not counting --server
	discovered bool     // servers came from the API during this run
	down       map[string]bool
	active     string // where new connections go
	// conns are the open client connections by the server they reach.
	conns map[string]map[net.Conn]struct{}
}

// New prepares a load balancer; Run starts it.
func New(cfg Config) *LB {
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 5 * time.Second
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 3 * time.Second
	}
	if cfg.Check == nil {
		cfg.Check = func(ctx context.Context, server string) error {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", server)
			if err == nil {
				c.Close()
			}
			return err
		}
	}
	return &LB{cfg: cfg, down: map[string]bool{}, conns: map[string]map[net.Conn]struct{}{}}
}

func (l *LB) Name() string { return "api-load-balancer" }

// URL is the API's address for the node's clients.
func (l *LB) URL() string { return "https://" + l.cfg.Listen }

// Run serves until ctx ends.
func (l *LB) Run(ctx context.Context, ready func()) error {
	kept, err := Load(l.cfg.StateFile)
	if err != nil {
		logrus.Warnf("API load balancer: starting from --server alone: %v", err)
	}
	l.mu.Lock()
	l.servers = kept.Servers
	l.active = l.bestLocked()
	l.mu.Unlock()
	ln, err := net.Listen("tcp", l.cfg.Listen)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		ln.Close()
		l.closeAll()
		wg.Wait()
	}()
	wg.Go(func() { l.accept(ctx, ln, &wg) })
	wg.Go(func() { l.checkLoop(ctx) })
	if l.cfg.Discover != nil {
		wg.Go(func() {
			if err := l.cfg.Discover(ctx, l.setServers); err != nil && ctx.Err() == nil {
				logrus.Warnf("API load balancer: learning the servers: %v", err)
			}
		})
	}
	logrus.Infof("API load balancer on %s: %s first, of %v", l.cfg.Listen, l.active, l.ranked())
	ready()
	<-ctx.Done()
	return nil
}

func (l *LB) accept(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				logrus.Errorf("API load balancer: %v", err)
			}
			return
		}
		wg.Go(func() { l.serve(ctx, c) })
	}
}

// serve forwards one client connection to the first server that takes it.
func (l *LB) serve(ctx context.Context, client net.Conn) {
	defer client.Close()
	// keep-alives find a server that vanished without closing its
	// connections (a pulled cable) within about half a minute
	d := net.Dialer{Timeout: l.cfg.DialTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	for _, srv := range l.candidates() {
		up, err := d.DialContext(ctx, "tcp", srv)
		if err != nil {
			l.setDown(srv, err)
			continue
		}
		// a server is back only by its check: one that takes connections
		// but fails its check would otherwise flap
		if !l.track(srv, client) {
			up.Close()
			return
		}
		pipe(client, up)
		l.untrack(srv, client)
		return
	}
}

// pipe copies both ways until either side ends, then ends both.
func pipe(a, b net.Conn) {
	var once sync.Once
	done := func() {
		once.Do(func() {
			a.Close()
			b.Close()
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(a, b)
		done()
	})
	_, _ = io.Copy(b, a)
	done()
	wg.Wait()
}

// checkLoop checks every known server each interval.
func (l *LB) checkLoop(ctx context.Context) {
	t := time.NewTicker(l.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, srv := range l.ranked() {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, l.cfg.DialTimeout)
				err := l.cfg.Check(cctx, srv)
				cancel()
				if ctx.Err() == nil {
					l.setDown(srv, err)
				}
			})
		}
		wg.Wait()
	}
}

// setDown records whether srv answered (err nil) and, when that changes
// where new connections go, moves the open ones there: their clients
// reconnect through the load balancer.
func (l *LB) setDown(srv string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if was := l.down[srv]; was != (err != nil) {
		if err != nil {
			logrus.Warnf("API load balancer: server %s is down: %v", srv, err)
		} else {
			logrus.Infof("API load balancer: server %s is back", srv)
		}
	}
	if err != nil {
		l.down[srv] = true
	} else {
		delete(l.down, srv)
	}
	l.rebalanceLocked()
}

// setServers takes the cluster's servers as learned from the API and keeps
// them for the next start.
func (l *LB) setServers(servers []string) {
	if len(servers) == 0 {
		return // a moment without endpoints: keep the ones known
	}
	servers = slices.Sorted(slices.Values(servers))
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := !slices.Equal(servers, l.servers)
	l.servers, l.discovered = servers, true
	for srv := range l.down {
		if srv != l.cfg.Server && !slices.Contains(servers, srv) {
			delete(l.down, srv)
		}
	}
	if changed {
		logrus.Infof("API load balancer: the cluster's servers are %v", servers)
		if err := save(l.cfg.StateFile, Kept{Server: l.cfg.Server, Servers: servers}); err != nil {
			logrus.Warnf("API load balancer: keeping the servers: %v", err)
		}
	}
	l.rebalanceLocked()
}

// rebalanceLocked points new connections at the best server that is up
// and closes the connections to any other: to a dead server, or to a worse
// one while a better one (--server, back again) answers. With no server
// up, it leaves the connections alone: there is nowhere better to go.
func (l *LB) rebalanceLocked() {
	best := l.bestLocked()
	if best != l.active {
		logrus.Infof("API load balancer: using %s (was %s)", best, l.active)
		l.active = best
	}
	if l.down[best] {
		return
	}
	for srv := range l.conns {
		if srv != best {
			l.closeLocked(srv)
		}
	}
}

func (l *LB) bestLocked() string {
	return candidates(rank(l.cfg.Server, l.servers, l.discovered, l.cfg.NodeName), l.down)[0]
}

func (l *LB) closeLocked(srv string) {
	for c := range l.conns[srv] {
		c.Close()
	}
	delete(l.conns, srv)
}

func (l *LB) ranked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rank(l.cfg.Server, l.servers, l.discovered, l.cfg.NodeName)
}

func (l *LB) candidates() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return candidates(rank(l.cfg.Server, l.servers, l.discovered, l.cfg.NodeName), l.down)
}

// track records an open connection to srv; it refuses one to a server
// other than the active one, which a rebalance has just left.
func (l *LB) track(srv string, c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if srv != l.active && !l.down[l.active] {
		return false
	}
	if l.conns[srv] == nil {
		l.conns[srv] = map[net.Conn]struct{}{}
	}
	l.conns[srv][c] = struct{}{}
	return true
}

func (l *LB) untrack(srv string, c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns[srv], c)
}

func (l *LB) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for srv := range l.conns {
		l.closeLocked(srv)
	}
}
