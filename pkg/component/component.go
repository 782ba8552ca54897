// Package component gives every edgeos subsystem the same small lifecycle:
// run under a context, say when it is ready, return when the context ends.
// A Manager starts components in order, each only once the one before is
// ready, and stops them in reverse order.
package component

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Component is one subsystem of an edgeos process.
type Component interface {
	// Name is a short label for logs.
	Name() string
	// Run does the component's work until ctx ends, calling ready once it
	// serves. It returns nil after a clean stop, or the error that stopped it.
	Run(ctx context.Context, ready func()) error
}

// Outliver is a component whose goroutines partly outlive its stop: one
// that runs an upstream program some of whose loops run until the process
// ends (on wait.NeverStop). What such a component leaves running is
// reported at its stop; what any other component leaves is warned about.
type Outliver interface {
	OutlivesStop() bool
}

// Func adapts a name and a run function to a Component.
type Func struct {
	Label string
	Fn    func(ctx context.Context, ready func()) error
	// Outlives marks a component whose goroutines outlive its stop.
	Outlives bool
}

func (f Func) Name() string                                { return f.Label }
func (f Func) Run(ctx context.Context, ready func()) error { return f.Fn(ctx, ready) }
func (f Func) OutlivesStop() bool                          { return f.Outlives }

// Once is a component whose work is a step done at start (creating API
// objects, say): ready when fn succeeds, then idle until stopped.
func Once(label string, fn func(ctx context.Context) error) Component {
	return Func{Label: label, Fn: func(ctx context.Context, ready func()) error {
		if err := fn(ctx); err != nil {
			return err
		}
		ready()
		<-ctx.Done()
		return nil
	}}
}

type running struct {
	name     string
	outlives bool
	cancel   context.CancelFunc
	done     chan struct{}
}

// Manager runs components in order and stops them in reverse.
type Manager struct {
	mu      sync.Mutex
	started []*running
	failed  chan error
}

// NewManager makes an empty manager.
func NewManager() *Manager {
	return &Manager{failed: make(chan error, 1)}
}

// Start runs c and waits until it is ready. It fails if c returns before
// being ready or ctx ends first.
func (m *Manager) Start(ctx context.Context, c Component) error {
	cctx, cancel := context.WithCancel(context.Background())
	o, ok := c.(Outliver)
	r := &running{name: c.Name(), outlives: ok && o.OutlivesStop(), cancel: cancel, done: make(chan struct{})}
	readyCh := make(chan struct{})
	var once sync.Once
	exited := make(chan error, 1)
	go func() {
		defer close(r.done)
		var err error
		// every goroutine the component starts carries its name (see Lingering)
		pprof.Do(cctx, pprof.Labels(labelKey, c.Name()), func(cctx context.Context) {
			err = c.Run(cctx, func() { once.Do(func() { close(readyCh) }) })
		})
		if cctx.Err() != nil {
			err = nil // stopped on purpose: whatever it returned is the stop
		}
		exited <- err
		if err == nil {
			err = fmt.Errorf("%s exited", c.Name())
		}
		if cctx.Err() == nil {
			select {
			case m.failed <- fmt.Errorf("%s: %w", c.Name(), err):
			default:
			}
		}
	}()
	m.mu.Lock()
	m.started = append(m.started, r)
	m.mu.Unlock()
	select {
	case <-readyCh:
		logrus.Debugf("%s is ready", c.Name())
		return nil
	case err := <-exited:
		if err == nil {
			err = errors.New("exited before it was ready")
		}
		return fmt.Errorf("%s: %w", c.Name(), err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Failed delivers the first error of a component that stopped on its own.
func (m *Manager) Failed() <-chan error { return m.failed }

// Stop ends the components, last started first, waiting for each, and
// then reports the goroutines a component left running: a warning for a
// component of edgeos's own, which must end all it started, an
// information line for those that outlive their stop.
//
// A goroutine told to end may take a moment after its component returned
// (database/sql's connection opener ends only after Close returns), so
// what lingers is looked at again for up to settleFor before it counts.
func (m *Manager) Stop() {
	m.mu.Lock()
	started := m.started
	m.started = nil
	m.mu.Unlock()
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		r.cancel()
		<-r.done
		logrus.Debugf("%s stopped", r.name)
	}
	if len(started) == 0 {
		return
	}
	left := settle(started)
	var outlived []string
	for _, r := range started {
		switch starts := left[r.name]; {
		case len(starts) == 0:
		case r.outlives:
			outlived = append(outlived, fmt.Sprintf("%s (%d)", r.name, len(starts)))
		default:
			logrus.Warnf("%s left %d goroutines running after its stop: %s", r.name, len(starts), summary(starts))
		}
	}
	if len(outlived) > 0 {
		logrus.Infof("Stopped; goroutines of upstream loops that run until the process ends: %s", strings.Join(outlived, ", "))
	}
}

// settleFor bounds how long Stop waits for goroutines that are ending.
const settleFor = 500 * time.Millisecond

// settle returns what the started components leave running once no
// goroutine of a component that must end all it started is still ending,
// or settleFor has passed.
func settle(started []*running) map[string][]string {
	deadline := time.Now().Add(settleFor)
	for {
		left := Lingering()
		clean := true
		for _, r := range started {
			clean = clean && (r.outlives || len(left[r.name]) == 0)
		}
		if clean || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}
