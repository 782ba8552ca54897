// Package telemetry is where edgeos's own parts publish Prometheus series.
//
// Every series goes into the one registry the upstream components of the
// process already use (component-base's), which the server serves on its
// API port at /metrics (behind the apiserver's authentication and RBAC)
// and every node on its node-local endpoint (kube-proxy's metrics server,
// loopback by default): each series once per endpoint, and an agent's
// endpoint holds only what runs on that node. A nil Registerer (unit
// tests) keeps the series unpublished.
package telemetry

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Namespace prefixes every edgeos series.
const Namespace = "edgeos"

// Process is the registry the whole process serves.
func Process() prometheus.Registerer { return legacyregistry.Registerer() }

// register adds c to reg and returns what reg holds under its name: c, or
// the collector registered before (a component built again in the same
// process keeps counting into the same series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}

// CounterVec is a registered counter with labels.
func CounterVec(reg prometheus.Registerer, opts prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	opts.Namespace = Namespace
	return register(reg, prometheus.NewCounterVec(opts, labels))
}

// Counter is a registered counter.
func Counter(reg prometheus.Registerer, opts prometheus.CounterOpts) prometheus.Counter {
	opts.Namespace = Namespace
	return register(reg, prometheus.NewCounter(opts))
}

// Gauge is a registered gauge.
func Gauge(reg prometheus.Registerer, opts prometheus.GaugeOpts) prometheus.Gauge {
	opts.Namespace = Namespace
	return register(reg, prometheus.NewGauge(opts))
}

// GaugeVec is a registered gauge with labels.
func GaugeVec(reg prometheus.Registerer, opts prometheus.GaugeOpts, labels ...string) *prometheus.GaugeVec {
	opts.Namespace = Namespace
	return register(reg, prometheus.NewGaugeVec(opts, labels))
}

// GaugeFunc is a registered gauge read when scraped. A second one of the
// same name in the process is not registered (the first one's function
// stays).
func GaugeFunc(reg prometheus.Registerer, opts prometheus.GaugeOpts, fn func() float64) {
	opts.Namespace = Namespace
	register(reg, prometheus.NewGaugeFunc(opts, fn))
}

// Collectors registers collectors that are not edgeos's own (a library's),
// each once.
func Collectors(reg prometheus.Registerer, cs ...prometheus.Collector) {
	for _, c := range cs {
		register(reg, c)
	}
}
