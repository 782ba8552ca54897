// Package datastore runs kine in-process: an etcd API for the apiserver,
// backed by an embedded SQLite file by default, or by the PostgreSQL, MySQL or
// etcd endpoint the user names.
package datastore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	kinetls "github.com/k3s-io/kine/pkg/tls"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Config says where the data lives.
type Config struct {
	// Endpoint is --datastore-endpoint; empty means SQLite under Dir.
	Endpoint string
	// Dir holds the SQLite file and kine's socket.
	Dir string
	// CAFile, CertFile and KeyFile secure the connection to Endpoint.
	CAFile, CertFile, KeyFile string
	// ConnectTimeout bounds the wait for an external endpoint to answer.
	ConnectTimeout time.Duration
	// CompactInterval is how often kine itself drops old revisions; 0 leaves
	// it to the apiserver.
	CompactInterval time.Duration
	// Metrics is where kine's series and the files' sizes are published;
	// nil publishes none.
	Metrics prometheus.Registerer
}

// SQLiteParams are the connection settings of the embedded database.
const SQLiteParams = "_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=20&cache=shared"

// Datastore is the running kine.
type Datastore struct {
	cfg Config
	mu  sync.Mutex
	// endpoints are the etcd URLs the apiserver talks to
	endpoints []string
	// direct: an etcd endpoint handed through, not served by kine
	direct bool
}

// New prepares a datastore; Run starts it.
func New(cfg Config) *Datastore { return &Datastore{cfg: cfg} }

func (d *Datastore) Name() string { return "datastore" }

// Embedded reports whether the data is in the local SQLite file, the
// single-server case where leader election is pointless.
func (d *Datastore) Embedded() bool { return d.cfg.Endpoint == "" }

// Endpoints are the etcd URLs the apiserver talks to, once Run is ready.
func (d *Datastore) Endpoints() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.endpoints
}

// Run serves the etcd API until ctx ends.
func (d *Datastore) Run(ctx context.Context, ready func()) error {
	if err := os.MkdirAll(d.cfg.Dir, 0o700); err != nil {
		return err
	}
	ep, db := d.cfg.Endpoint, filepath.Join(d.cfg.Dir, "state.db")
	if ep == "" {
		if err := createSQLite(db); err != nil {
			return err
		}
		if err := truncateWAL(db); err != nil {
			return err
		}
		ep = "sqlite://" + db + "?" + SQLiteParams + "&" + startupVacuumOff + "&" + compactCheckpointOff
	} else {
		if err := probe(ctx, ep, d.cfg.ConnectTimeout); err != nil {
			return err
		}
	}
	k, err := listen(d.cfg.driver(ep), api{
		Socket:         filepath.Join(d.cfg.Dir, "kine.sock"),
		NotifyInterval: 5 * time.Second,
		// etcd 3.6 semantics tell the apiserver that watch progress
		// notifications work, which its consistent reads rely on.
		EtcdVersion: "3.6.11",
		OneWriter:   embeddedEndpoint(ep),
	})
	if err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	defer k.close()
	d.mu.Lock()
	d.endpoints, d.direct = k.endpoints, k.grpc == nil
	d.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	if d.Embedded() {
		publishFileSizes(d.cfg.Metrics, db)
		logrus.Infof("Datastore: SQLite at %s", db)
		wg.Go(func() { reclaimLoop(ctx, db, DefaultReclaimPolicy()) })
	} else {
		logrus.Infof("Datastore: %s", redact(d.cfg.Endpoint))
	}
	ready()
	<-ctx.Done()
	return nil
}

// driver is kine's configuration of the driver for ep.
func (c Config) driver(ep string) drivers.Config {
	return drivers.Config{
		Endpoint:         ep,
		BackendTLSConfig: kinetls.Config{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile},
		// 0 leaves compaction to the apiserver (--etcd-compaction-interval).
		CompactInterval:  c.CompactInterval,
		CompactTimeout:   5 * time.Second,
		CompactMinRetain: 1000,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
		PollInterval:     pollInterval(ep),
		// kine registers its own series (SQL operations and their time,
		// compactions)
		MetricsRegisterer: c.Metrics,
	}
}

// How often kine reads the database for changes nobody told it of. kine
// wakes its watchers at once on each of its own writes. On the embedded
// SQLite every write is this process's own, queued one at a time
// (oneWriter), so the poll is only a safety net. An external datastore
// also takes other servers' writes, which only the poll brings to this
// server's watchers: there it polls as often as kine does by default.
const (
	pollEmbedded = 10 * time.Second
	pollExternal = time.Second
)

func pollInterval(ep string) time.Duration {
	if embeddedEndpoint(ep) {
		return pollEmbedded
	}
	return pollExternal
}

// embeddedEndpoint: kine's endpoint for the embedded SQLite file.
func embeddedEndpoint(ep string) bool { return strings.HasPrefix(ep, "sqlite:") }

// redact hides the password in a datastore URL for logs.
func redact(ep string) string {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		return ep
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ep
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***@" + rest[at+1:]
}
