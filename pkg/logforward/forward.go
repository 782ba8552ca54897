// Package logforward ships a node's logs off the box: every container's
// lines (from the kubelet's pod log files) and edgeos's own, to a Loki
// push API or an OpenTelemetry logs endpoint (OTLP/HTTP), labelled with
// namespace, pod, container and node. Lines go through a capped spool on
// disk, so that an endpoint that is down, or an edgeos restart, loses
// nothing short of the cap; past the cap the oldest lines are dropped and
// counted. Lines of one container arrive in the order written.
package logforward

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgeos/edgeos/pkg/logforward/endpoint"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Config is what the forwarder is told.
type Config struct {
	Target   endpoint.Target
	NodeName string
	// Dir holds the forwarder's files: the spool and where it stopped
	// reading each log file.
	Dir string
	// PodLogs is the kubelet's pod log directory (empty: a server without
	// a node, which ships only its own lines).
	PodLogs string
	// BufferBytes caps the spool.
	BufferBytes int64
	// Own holds edgeos's own lines (nil: they are not shipped).
	Own     *Own
	Metrics prometheus.Registerer
	// Interval is how often the logs are read (0: every second).
	Interval time.Duration
}

// Batch bounds: what one request carries at most.
const (
	batchLines = 2000
	batchBytes = 1 << 20
)

// Backoff of the sender while the endpoint cannot be reached.
const (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

// Forwarder is the component.
type Forwarder struct {
	cfg     Config
	read    *prometheus.CounterVec
	sent    prometheus.Counter
	dropped *prometheus.CounterVec
	buffer  prometheus.Gauge
}

// New makes the forwarder; Run starts it.
func New(cfg Config) *Forwarder {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	reg := cfg.Metrics
	return &Forwarder{
		cfg: cfg,
		read: telemetry.CounterVec(reg, prometheus.CounterOpts{Subsystem: "log_forward", Name: "read_lines_total",
			Help: "Log lines put in the spool to be shipped, by source: pods (the containers' logs) or edgeos (its own)."}, "source"),
		sent: telemetry.Counter(reg, prometheus.CounterOpts{Subsystem: "log_forward", Name: "sent_lines_total",
			Help: "Log lines the endpoint of --log-forward accepted."}),
		dropped: telemetry.CounterVec(reg, prometheus.CounterOpts{Subsystem: "log_forward", Name: "dropped_lines_total",
			Help: "Log lines not shipped, by reason: buffer_full (the oldest unsent lines, past --log-forward-buffer), rejected (refused by the endpoint), relay_overflow (edgeos's own lines, more in a second than held), unwritable (edgeos's own lines taken while the spool could not be written)."}, "reason"),
		buffer: telemetry.Gauge(reg, prometheus.GaugeOpts{Subsystem: "log_forward", Name: "buffer_bytes",
			Help: "Bytes of log lines waiting in the spool on disk."}),
	}
}

func (f *Forwarder) Name() string { return "log-forward" }

// Run reads and ships until ctx ends; at the stop, what was read is
// left in the spool for the next start.
func (f *Forwarder) Run(ctx context.Context, ready func()) error {
	sp, err := openSpool(filepath.Join(f.cfg.Dir, "spool"), f.cfg.BufferBytes, func(n int) {
		f.dropped.WithLabelValues("buffer_full").Add(float64(n))
	})
	if err != nil {
		return err
	}
	defer sp.Close()
	f.buffer.Set(float64(sp.Size()))
	t := newTailer(f.cfg.PodLogs, filepath.Join(f.cfg.Dir, "positions.json"))
	defer t.Close()
	logrus.Infof("Shipping logs to %s", f.cfg.Target.URL.Redacted())
	ready()

	sctx, stopSending := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { f.ship(sctx, sp) })
	defer wg.Wait()
	defer stopSending()

	tick := time.NewTicker(f.cfg.Interval)
	defer tick.Stop()
	var failing bool
	for {
		select {
		case <-ctx.Done():
			f.collect(sp, t, &failing)
			return nil
		case <-tick.C:
			f.collect(sp, t, &failing)
		}
	}
}

// collect moves new lines into the spool, then saves where reading
// stopped. A spool that cannot be written (a full disk) leaves the
// positions as they were saved, so those lines are read again next time.
func (f *Forwarder) collect(sp *spool, t *tailer, failing *bool) {
	pods := t.Read()
	own, lost := f.cfg.Own.take()
	if lost > 0 {
		f.dropped.WithLabelValues("relay_overflow").Add(float64(lost))
	}
	err := sp.Append(append(pods, own...))
	if err == nil {
		err = t.Save()
	}
	if err != nil {
		if !*failing {
			logrus.Warnf("Log forwarding: cannot keep lines in %s: %v", f.cfg.Dir, err)
		}
		*failing = true
		// the pods' lines are read again from their files; edgeos's own
		// are gone
		f.dropped.WithLabelValues("unwritable").Add(float64(len(own)))
		t.Rewind()
		return
	}
	*failing = false
	f.read.WithLabelValues("pods").Add(float64(len(pods)))
	f.read.WithLabelValues("edgeos").Add(float64(len(own)))
	f.buffer.Set(float64(sp.Size()))
}

// ship sends the spool's lines, oldest first, until ctx ends.
func (f *Forwarder) ship(ctx context.Context, sp *spool) {
	s := newSender(f.cfg.Target, f.cfg.NodeName)
	// its kept-alive connection's goroutines end with the component
	defer s.client.CloseIdleConnections()
	retry := retryFirst
	down := false
	for {
		b, err := sp.Peek(batchLines, batchBytes)
		if err != nil {
			logrus.Warnf("Log forwarding: reading the spool: %v", err)
		}
		if b.skipped {
			if err := sp.Ack(b); err != nil {
				logrus.Warnf("Log forwarding: marking lines sent: %v", err)
			}
		}
		if len(b.entries) == 0 {
			if err == nil {
				select {
				case <-ctx.Done():
					return
				case <-sp.Notify():
				}
				continue
			}
			if !sleep(ctx, retryMax) {
				return
			}
			continue
		}
		err = s.send(ctx, b.entries)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			f.sent.Add(float64(len(b.entries)))
		case errors.Is(err, errRejected):
			logrus.Warnf("Log forwarding: %d lines dropped: %v", len(b.entries), err)
			f.dropped.WithLabelValues("rejected").Add(float64(len(b.entries)))
		default:
			if !down {
				// said once per outage: each line said is another to ship
				logrus.Warnf("Log forwarding: %v; lines wait in the spool (up to its cap) and are sent when it answers", err)
				down = true
			}
			if !sleep(ctx, retry) {
				return
			}
			retry = min(2*retry, retryMax)
			continue
		}
		if down {
			logrus.Infof("Log forwarding: %s answers again", s.endpoint)
			down = false
		}
		retry = retryFirst
		if err := sp.Ack(b); err != nil {
			logrus.Warnf("Log forwarding: marking lines sent: %v", err)
		}
		f.buffer.Set(float64(sp.Size()))
	}
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
