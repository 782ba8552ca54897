package component

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) component(name string) Component {
	return Func{Label: name, Fn: func(ctx context.Context, ready func()) error {
		r.add("start " + name)
		ready()
		<-ctx.Done()
		r.add("stop " + name)
		return ctx.Err()
	}}
}

func TestOrderAndReverseStop(t *testing.T) {
	r := &recorder{}
	m := NewManager()
	for _, n := range []string{"a", "b", "c"} {
		if err := m.Start(context.Background(), r.component(n)); err != nil {
			t.Fatal(err)
		}
	}
	m.Stop()
	got := strings.Join(r.events, ",")
	if got != "start a,start b,start c,stop c,stop b,stop a" {
		t.Fatalf("events %s", got)
	}
}

func TestExitBeforeReady(t *testing.T) {
	m := NewManager()
	defer m.Stop()
	err := m.Start(context.Background(), Func{Label: "broken", Fn: func(context.Context, func()) error {
		return errors.New("port in use")
	}})
	if err == nil || !strings.Contains(err.Error(), "broken: port in use") {
		t.Fatalf("error %v", err)
	}
}

func TestFailureAfterReadyIsReported(t *testing.T) {
	m := NewManager()
	defer m.Stop()
	fail := make(chan struct{})
	err := m.Start(context.Background(), Func{Label: "flaky", Fn: func(_ context.Context, ready func()) error {
		ready()
		<-fail
		return errors.New("lost the database")
	}})
	if err != nil {
		t.Fatal(err)
	}
	close(fail)
	if err := <-m.Failed(); err == nil || !strings.Contains(err.Error(), "flaky: lost the database") {
		t.Fatalf("failure %v", err)
	}
}

func TestCleanStopIsNotAFailure(t *testing.T) {
	m := NewManager()
	r := &recorder{}
	if err := m.Start(context.Background(), r.component("a")); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	select {
	case err := <-m.Failed():
		t.Fatalf("a stop on purpose was reported as a failure: %v", err)
	default:
	}
}
