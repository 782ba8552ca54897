// Package watch runs edgeos's small controllers (overlay peers, cluster
// DNS, service load balancer, local-path storage): a few informers, and
// one pass over their whole state after any change, at most one pass at a
// time. Edge clusters are small; a whole pass keeps each controller's rules
// in one function.
package watch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Factory is what Loop needs of an informer factory.
type Factory interface {
	Start(stop <-chan struct{})
	Shutdown()
}

// Factories start and shut down several informer factories as one.
type Factories []Factory

func (fs Factories) Start(stop <-chan struct{}) {
	for _, f := range fs {
		f.Start(stop)
	}
}

func (fs Factories) Shutdown() {
	for _, f := range fs {
		f.Shutdown()
	}
}

// Pause is how long Loop waits before another pass after one failed, and
// the least time between two passes.
type Pause struct {
	AfterError, Between time.Duration
}

// DefaultPause suits controllers that write to the API.
var DefaultPause = Pause{AfterError: 2 * time.Second}

// Loop starts the factory, waits until the informers have synced, calls
// ready (when not nil), then runs pass once and again after every change,
// until ctx ends. A failed pass is logged under name and retried after
// p.AfterError. It returns once every goroutine it started has ended.
func Loop(ctx context.Context, name string, factory Factory, infs []cache.SharedIndexInformer, p Pause, ready func(), pass func(context.Context) error) error {
	var retries sync.WaitGroup
	defer retries.Wait()
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	synced := make([]cache.InformerSynced, len(infs))
	for i, inf := range infs {
		synced[i] = inf.HasSynced
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	if ready != nil {
		ready()
	}
	poke()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		if err := pass(ctx); err != nil && ctx.Err() == nil {
			if errors.As(err, new(quiet)) {
				logrus.Debugf("%s: %v (trying again)", name, err)
			} else {
				logrus.Warnf("%s: %v (trying again)", name, err)
			}
			retries.Go(func() {
				select {
				case <-ctx.Done():
				case <-time.After(p.AfterError):
					poke()
				}
			})
		}
		if p.Between > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(p.Between):
			}
		}
	}
}

// Quietly marks an error a pass has already reported: it is retried like
// any other, and logged at the debug level only, so that a condition that
// lasts (a port another program holds) is told once, not every few seconds.
func Quietly(err error) error { return quiet{err} }

type quiet struct{ error }

func (q quiet) Unwrap() error { return q.error }

// Recorder records Events as component until stop is called.
func Recorder(ctx context.Context, cs kubernetes.Interface, component string) (recorder record.EventRecorder, stop func()) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}), broadcaster.Shutdown
}

// Retry calls try until it succeeds, pausing every between tries and
// logging each failure as name's; it reports false when ctx ended first
// (a try cut short by the stop is no fault).
func Retry(ctx context.Context, name string, every time.Duration, try func(context.Context) error) bool {
	for {
		err := try(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		logrus.Warnf("%s: %v (trying again)", name, err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(every):
		}
	}
}
