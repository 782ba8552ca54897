package lb

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Component is the name events carry.
const Component = "edgeos-servicelb"

// Claimer is another user of node ports, whose claims take part in the
// plan.
type Claimer interface {
	// Informers are what the claims are read from, made in f.
	Informers(f informers.SharedInformerFactory) []cache.SharedIndexInformer
	// Claims are the current claims, read from those informers.
	Claims() ([]Claim, error)
}

// Controller keeps LoadBalancer Services' status in step with the plan.
type Controller struct {
	cs      kubernetes.Interface
	claimer Claimer
	// told remembers the last waiting reason evented per Service, so an
	// Event is recorded when the reason changes, not on every pass.
	told map[string]string
	// services counts the LoadBalancer Services by state, as planned
	services *prometheus.GaugeVec
}

// New makes the controller; claimer may be nil, and so may reg (where
// the count of Services by state is published).
func New(cs kubernetes.Interface, claimer Claimer, reg prometheus.Registerer) *Controller {
	return &Controller{cs: cs, claimer: claimer, told: map[string]string{},
		services: telemetry.GaugeVec(reg, prometheus.GaugeOpts{Subsystem: "servicelb", Name: "services",
			Help: "LoadBalancer Services edgeos serves, by state: assigned (node addresses in their status) or waiting."}, "state")}
}

func (c *Controller) Name() string { return "servicelb" }

// Run watches Services, Nodes and EndpointSlices and replans on every
// change; ready once the watches have synced.
func (c *Controller) Run(ctx context.Context, ready func()) error {
	factory := informers.NewSharedInformerFactory(c.cs, 0)
	svcs := factory.Core().V1().Services()
	nodes := factory.Core().V1().Nodes()
	eps := factory.Discovery().V1().EndpointSlices()
	infs := []cache.SharedIndexInformer{svcs.Informer(), nodes.Informer(), eps.Informer()}
	if c.claimer != nil {
		infs = append(infs, c.claimer.Informers(factory)...)
	}
	recorder, stop := watch.Recorder(ctx, c.cs, Component)
	defer stop()
	return watch.Loop(ctx, "servicelb", factory, infs,
		watch.DefaultPause, ready, func(ctx context.Context) error {
			s, err1 := svcs.Lister().List(labels.Everything())
			n, err2 := nodes.Lister().List(labels.Everything())
			e, err3 := eps.Lister().List(labels.Everything())
			var claims []Claim
			var err4 error
			if c.claimer != nil {
				claims, err4 = c.claimer.Claims()
			}
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				return err
			}
			p := assign(s, n, e, claims)
			c.services.WithLabelValues("assigned").Set(float64(len(p.ingress)))
			c.services.WithLabelValues("waiting").Set(float64(len(p.waiting)))
			return c.apply(ctx, p, s, recorder)
		})
}

// apply writes each managed Service's status, and an Event when a Service
// starts waiting or gets its addresses.
func (c *Controller) apply(ctx context.Context, p plan, services []*corev1.Service, recorder record.EventRecorder) error {
	var errs []error
	for _, s := range services {
		k := key(s)
		if !managed(s) {
			delete(c.told, k)
			continue
		}
		ips := p.ingress[k]
		if why, waiting := p.waiting[k]; waiting && c.told[k] != why {
			recorder.Eventf(s, corev1.EventTypeWarning, "Pending", "Waiting for a load-balancer address: %s", why)
			c.told[k] = why
		}
		var want []corev1.LoadBalancerIngress
		for _, ip := range ips {
			want = append(want, corev1.LoadBalancerIngress{IP: ip})
		}
		have := s.Status.LoadBalancer.Ingress
		if slices.EqualFunc(have, want, func(a, b corev1.LoadBalancerIngress) bool { return a.IP == b.IP && a.Hostname == b.Hostname }) {
			continue
		}
		update := s.DeepCopy()
		update.Status.LoadBalancer.Ingress = want
		if _, err := c.cs.CoreV1().Services(s.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("status of %s: %w", k, err))
			continue
		}
		if len(want) > 0 {
			recorder.Eventf(s, corev1.EventTypeNormal, "Assigned", "Load-balancer addresses %v", ips)
			delete(c.told, k)
		}
	}
	return errors.Join(errs...)
}
