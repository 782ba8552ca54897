// Package componenttest runs a component for a test.
package componenttest

import (
	"context"
	"sync"
	"testing"

	"github.com/edgeos/edgeos/pkg/component"
)

// Run starts c and waits until it is ready, failing the test if it returns
// first. stop ends c, waits for it and fails the test if it returned an
// error; the test's end calls it too, so calling it is needed only to stop
// c earlier.
func Run(tb testing.TB, c component.Component) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- c.Run(ctx, func() { close(ready) }) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("%s: %v", c.Name(), err)
			}
		})
	}
	tb.Cleanup(stop)
	select {
	case <-ready:
	case err := <-done:
		tb.Fatalf("%s ended before it was ready: %v", c.Name(), err)
	}
	return stop
}
