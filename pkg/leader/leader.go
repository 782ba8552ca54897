// Package leader runs components on one server at a time: edgeos's
// cluster-wide controllers, and kube-controller-manager and kube-scheduler
// in place of their own elections, which end the whole process when a
// Lease is lost. Servers that share a datastore compete for a Lease; the
// one holding it runs the components, and when it stops renewing
// (stopped, killed, cut off, too slow) another takes the Lease and starts
// them, while the one that lost it stops them and competes again.
package leader

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Timing is how long a Lease lasts unrenewed, how long its holder keeps
// failing to renew it before it ends its term, and how often candidates
// try to take it and the holder renews it.
type Timing struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// upstream's defaults for its controllers' Leases
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// Group runs Components while this server holds the Lease named Lease,
// and stops them when it loses it. Each component must be able to run
// again after a stop.
type Group struct {
	Client kubernetes.Interface
	Lease  string
	// Namespace holds the Lease; empty is kube-system.
	Namespace  string
	Identity   string
	Components []component.Component
	// Timing's zero fields are upstream's defaults.
	Timing Timing
}

func (g *Group) Name() string { return "leader-" + g.Lease }

// OutlivesStop: the group leaves running what its components leave.
func (g *Group) OutlivesStop() bool {
	for _, c := range g.Components {
		if o, ok := c.(component.Outliver); ok && o.OutlivesStop() {
			return true
		}
	}
	return false
}

// completed is t with upstream's defaults in its zero fields.
func (t Timing) completed() Timing {
	if t.LeaseDuration == 0 {
		t.LeaseDuration = leaseDuration
	}
	if t.RenewDeadline == 0 {
		t.RenewDeadline = renewDeadline
	}
	if t.RetryPeriod == 0 {
		t.RetryPeriod = retryPeriod
	}
	return t
}

// Check refuses what the elector would refuse only once it runs, so that
// a server refuses it before it starts.
func (t Timing) Check() error {
	c := t.completed()
	switch {
	case c.LeaseDuration < 0 || c.RenewDeadline < 0 || c.RetryPeriod < 0:
		return fmt.Errorf("a negative duration in lease duration %s, renew deadline %s, retry period %s", c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)
	case c.LeaseDuration <= c.RenewDeadline:
		return fmt.Errorf("the lease duration %s must be longer than the renew deadline %s", c.LeaseDuration, c.RenewDeadline)
	case float64(c.RenewDeadline) <= leaderelection.JitterFactor*float64(c.RetryPeriod):
		return fmt.Errorf("the renew deadline %s must be longer than %.1f retry periods (%s)", c.RenewDeadline, leaderelection.JitterFactor, c.RetryPeriod)
	}
	return nil
}

// Run is ready at once: a server that does not lead still serves.
func (g *Group) Run(ctx context.Context, ready func()) error {
	ready()
	for ctx.Err() == nil {
		if err := g.lead(ctx); err != nil {
			return err
		}
	}
	return nil
}

// lead takes part in one election and, when this server wins, runs the
// components until the Lease is lost; it returns a component's failure.
func (g *Group) lead(ctx context.Context) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// the elector runs its callback in a goroutine of its own and does not
	// wait for it: the components run here instead, on the context it
	// ends when the Lease is lost
	leading := make(chan context.Context, 1)
	ns := g.Namespace
	if ns == "" {
		ns = metav1.NamespaceSystem
	}
	t := g.Timing.completed()
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: g.Lease, Namespace: ns},
			Client:     g.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: g.Identity},
		},
		LeaseDuration: t.LeaseDuration, RenewDeadline: t.RenewDeadline, RetryPeriod: t.RetryPeriod,
		ReleaseOnCancel: true, Name: g.Lease,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(runCtx context.Context) { leading <- runCtx },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return err
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		le.Run(lctx)
	}()
	select {
	case <-ended:
		return nil
	case runCtx := <-leading:
		logrus.Infof("This server leads %s: starting its controllers", g.Lease)
		err := g.runAll(runCtx)
		cancel() // a failed component ends the term
		<-ended
		if ctx.Err() == nil && err == nil {
			logrus.Infof("This server no longer leads %s", g.Lease)
		}
		return err
	}
}

// runAll runs the components until ctx ends or one fails.
func (g *Group) runAll(ctx context.Context) error {
	m := component.NewManager()
	defer m.Stop()
	for _, c := range g.Components {
		if err := m.Start(ctx, c); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", g.Lease, err)
		}
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.Failed():
		return fmt.Errorf("%s: %w", g.Lease, err)
	}
}
