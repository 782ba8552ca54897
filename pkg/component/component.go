// Package component gives every edgeos subsystem the same small lifecycle:
// run under a context, say when it is ready, return when the context ends.
// A Manager starts components in order, each only once the one before is
// ready, and stops them in reverse order.
package component

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

// Func adapts a name and a run function to a Component.
type Func struct {
	Label string
	Fn    func(ctx context.Context, ready func()) error
}

func (f Func) Name() string                                { return f.Label }
func (f Func) Run(ctx context.Context, ready func()) error { return f.Fn(ctx, ready) }

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
	name   string
	cancel context.CancelFunc
	done   chan struct{}
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
	r := &running{name: c.Name(), cancel: cancel, done: make(chan struct{})}
	readyCh := make(chan struct{})
	var once sync.Once
	exited := make(chan error, 1)
	go func() {
		defer close(r.done)
		err := c.Run(cctx, func() { once.Do(func() { close(readyCh) }) })
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

// Stop ends the components, last started first, waiting for each.
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
}
