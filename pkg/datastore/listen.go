package datastore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/metrics"
	"github.com/k3s-io/kine/pkg/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	// The drivers of the schemes edgeos takes (probeAddrs), and no other.
	// kine's endpoint package links them all, and its NATS driver brings
	// the NATS server, whose process statistics woke every edgeos, agents
	// too, every second to read /proc.
	_ "github.com/k3s-io/kine/pkg/drivers/mysql"
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql"
	_ "github.com/k3s-io/kine/pkg/drivers/remote"
	_ "github.com/k3s-io/kine/pkg/drivers/sqlite"
)

// The etcd API's limits as etcd's own server sets them by default, so
// that the apiserver meets the server it expects.
const (
	keepAliveMinTime  = 5 * time.Second
	keepAliveInterval = 2 * time.Hour
	keepAliveTimeout  = 20 * time.Second
	maxRequestBytes   = 1536 * 1024
	// room for gRPC's framing around the largest request
	grpcOverheadBytes = 512 * 1024
	// a stop waits this long for open requests and watches to end
	gracefulStop = 2 * time.Second
)

// kine is the etcd API served by kine's driver for an endpoint, or the
// endpoint itself when it is an etcd (kine passes those through).
type kine struct {
	// endpoints are the etcd URLs for the apiserver.
	endpoints []string
	grpc      *grpc.Server // nil when passed through
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

// api says how kine serves the etcd API.
type api struct {
	// Socket is the unix socket it listens on, root only.
	Socket string
	// NotifyInterval is how often a watch without events gets a progress
	// notification.
	NotifyInterval time.Duration
	// EtcdVersion is the etcd version kine says it is.
	EtcdVersion string
	// OneWriter queues the writes in Go (SQLite; see oneWriter).
	OneWriter bool
}

// listen starts kine's driver for cfg.Endpoint and, unless that is an etcd
// itself, serves the etcd API for it; close ends both.
func listen(cfg drivers.Config, a api) (*kine, error) {
	ctx, stop := context.WithCancel(context.Background())
	k := &kine{stop: stop}
	_, backend, err := drivers.New(ctx, &k.wg, &cfg)
	if err != nil {
		k.close()
		// not the endpoint: it may hold a password
		return nil, fmt.Errorf("datastore driver: %w", err)
	}
	if backend == nil {
		k.endpoints = strings.Split(cfg.Endpoint, ",")
		return k, nil
	}
	if err := registerMetrics(cfg.MetricsRegisterer); err != nil {
		k.close()
		return nil, err
	}
	if err := backend.Start(ctx); err != nil {
		k.close()
		return nil, fmt.Errorf("starting kine: %w", err)
	}
	k.grpc = grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepAliveMinTime}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepAliveInterval, Timeout: keepAliveTimeout}),
		grpc.MaxConcurrentStreams(math.MaxUint32),
		grpc.MaxRecvMsgSize(maxRequestBytes+grpcOverheadBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
	)
	if a.OneWriter {
		backend = &oneWriter{Backend: backend}
	}
	server.New(backend, "unix", a.NotifyInterval, a.EtcdVersion).Register(k.grpc)
	l, err := listenUnix(a.Socket)
	if err != nil {
		k.close()
		return nil, err
	}
	k.wg.Go(func() {
		if err := k.grpc.Serve(l); err != nil {
			logrus.Errorf("Datastore: the etcd API stopped serving: %v", err)
		}
	})
	k.endpoints = []string{"unix://" + a.Socket}
	return k, nil
}

// close lets open requests end (for a short while), then stops the driver
// and waits for its goroutines.
func (k *kine) close() {
	if k.grpc != nil {
		t := time.AfterFunc(gracefulStop, k.grpc.Stop)
		k.grpc.GracefulStop()
		t.Stop()
	}
	k.stop()
	k.wg.Wait()
}

// registerMetrics publishes kine's series (SQL operations and their time,
// compactions, insert errors) in reg; nil publishes none.
func registerMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{metrics.SQLTotal, metrics.SQLTime, metrics.CompactTotal, metrics.InsertErrorsTotal} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("datastore metrics: %w", err)
		}
	}
	return nil
}

// listenUnix listens on path, replacing a socket left by an earlier run.
func listenUnix(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// its directory is root's alone already; the socket too
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
