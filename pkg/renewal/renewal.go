// Package renewal keeps edgeos's certificates current while it runs. It
// sleeps until the first of them is due (pki.Due), at most an hour, has
// them renewed, and retries while renewing fails, so that a node whose
// server was away renews soon after it is back. Its Statuses are what
// `edgeos certificate check` shows.
package renewal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/transport"
)

const (
	// maxSleep bounds a sleep, so that a certificate renewed by hand
	// (`edgeos certificate rotate`) or a clock set forward is noticed.
	maxSleep = time.Hour
	// minSleep keeps a certificate that stays due (its CA expires first)
	// from turning the loop into a busy one.
	minSleep = time.Second
	// maxRetry is the longest wait between failed renewals.
	maxRetry = time.Minute
)

// Config says what to watch and how to renew it.
type Config struct {
	// Files are the PEM certificates to watch.
	Files []string
	// Renew renews every certificate of Files that is due, and brings
	// what is derived from them up to date (a kubeconfig that embeds one).
	// It is called whenever the loop wakes, at least hourly, so it must
	// change nothing when nothing is due.
	Renew func(ctx context.Context) error
	// Metrics is where the certificates' expiry is published; nil:
	// nowhere.
	Metrics prometheus.Registerer
}

// Renewer is the component.
type Renewer struct{ cfg Config }

// New makes the component.
func New(cfg Config) *Renewer { return &Renewer{cfg: cfg} }

// Name implements component.Component.
func (*Renewer) Name() string { return "certificates" }

// Run implements component.Component. It is ready at once: the
// certificates exist (made at start, or by the join), and keeping them
// current is all it does.
func (r *Renewer) Run(ctx context.Context, ready func()) error {
	telemetry.Collectors(r.cfg.Metrics, expiry{files: r.cfg.Files})
	ready()
	// retry is the wait after a failed renewal; after, when set, replaces
	// the wait for the next due point once.
	var retry, after time.Duration
	for {
		wait := after
		if wait == 0 {
			var err error
			if wait, err = NextCheck(r.cfg.Files, time.Now()); err != nil {
				logrus.Warnf("Reading certificates: %v", err)
				wait = maxRetry
			}
		}
		after = 0
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := r.cfg.Renew(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			retry = min(max(2*retry, 5*time.Second), maxRetry)
			after = retry
			logrus.Warnf("Renewing certificates (trying again in %s): %v", retry, err)
			continue
		}
		retry = 0
		if sts, err := Statuses(r.cfg.Files, time.Now()); err == nil && len(due(sts)) > 0 {
			logrus.Warnf("Certificates still due after renewal, as their CA expires first (see the README on rotating a CA): %v", due(sts))
			after = maxSleep
		}
	}
}

// NextCheck is how long to sleep before the first of files is due.
func NextCheck(files []string, now time.Time) (time.Duration, error) {
	sts, err := Statuses(files, now)
	if err != nil {
		return 0, err
	}
	wait := maxSleep
	for _, st := range sts {
		wait = min(wait, st.RenewAt.Sub(now))
	}
	return max(wait, minSleep), nil
}

// Status is one certificate as `edgeos certificate check` shows it.
type Status struct {
	File     string
	Subject  string
	NotAfter time.Time
	RenewAt  time.Time
	Due      bool
	Expired  bool
}

// Statuses reads files; a missing file is skipped (a part that is off).
func Statuses(files []string, now time.Time) ([]Status, error) {
	var out []Status
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cert, err := pki.ParseCert(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		out = append(out, Status{
			File:     f,
			Subject:  cert.Subject.CommonName,
			NotAfter: cert.NotAfter,
			RenewAt:  cert.NotAfter.Add(-pki.RenewalWindow(cert)),
			Due:      pki.Due(cert, now),
			Expired:  !now.Before(cert.NotAfter),
		})
	}
	return out, errors.Join(errs...)
}

// due lists the files of sts that are due.
func due(sts []Status) []string {
	var out []string
	for _, st := range sts {
		if st.Due {
			out = append(out, st.File)
		}
	}
	return out
}

// ReloadInterval is how often client connections should look for a
// renewed client certificate, given the shortest renewal window in use:
// often enough that they move to the new certificate well before the old
// one expires, and no more often than Kubernetes' clients do by default.
func ReloadInterval(window time.Duration) time.Duration {
	return min(max(window/4, minSleep), transportDefault)
}

// transportDefault is client-go's own interval.
const transportDefault = 5 * time.Minute

// TuneClients sets, for the whole process, how often client-go looks for a
// renewed client certificate file (transport.CertCallbackRefreshDuration):
// the apiserver checks a client certificate on every request, so a
// connection opened with the old one fails once it expires, until client-go
// notices the new file and closes it. Call it before the first client is
// made; with certificates of a year it changes nothing.
func TuneClients(window time.Duration) {
	transport.CertCallbackRefreshDuration = ReloadInterval(window)
}

// expiry publishes when each certificate expires, read from its file when
// scraped: an alert on it does not depend on this loop running.
type expiry struct{ files []string }

var expiryDesc = prometheus.NewDesc(telemetry.Namespace+"_certificate_expiry_timestamp_seconds",
	"When a certificate edgeos keeps renewed expires (Unix time), by file.", []string{"file"}, nil)

func (expiry) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

func (e expiry) Collect(ch chan<- prometheus.Metric) {
	sts, _ := Statuses(e.files, time.Now())
	for _, st := range sts {
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(st.NotAfter.Unix()), st.File)
	}
}
