package watch

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

// TestLoop: ready after sync, a first pass, a pass after a change, and a
// failed pass tried again.
func TestLoop(t *testing.T) {
	cs := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(cs, 0)
	svcs := factory.Core().V1().Services()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var passes, seen atomic.Int32
	failOnce := atomic.Bool{}
	failOnce.Store(true)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Loop(ctx, "test", factory, []cache.SharedIndexInformer{svcs.Informer()}, Pause{AfterError: 10 * time.Millisecond},
			func() { close(ready) }, func(context.Context) error {
				passes.Add(1)
				l, _ := svcs.Lister().List(labels.Everything())
				seen.Store(int32(len(l)))
				if len(l) == 1 && failOnce.CompareAndSwap(true, false) {
					return errors.New("try again")
				}
				return nil
			})
	}()
	<-ready
	waitFor(t, "the first pass", func() bool { return passes.Load() >= 1 })
	if _, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// the pass that sees the Service fails once and is tried again
	waitFor(t, "a pass after the change, and one after its failure", func() bool { return seen.Load() == 1 && !failOnce.Load() && passes.Load() >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never happened", what)
}

func TestQuietlyKeepsTheError(t *testing.T) {
	base := errors.New("port in use")
	err := Quietly(base)
	if !errors.Is(err, base) || err.Error() != "port in use" || !errors.As(err, new(quiet)) {
		t.Errorf("Quietly(%v) = %v", base, err)
	}
}

// Retry tries until a try succeeds, and gives up, saying so, once its
// context ends.
func TestRetry(t *testing.T) {
	tries := 0
	ok := Retry(context.Background(), "test", time.Millisecond, func(context.Context) error {
		if tries++; tries < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if !ok || tries != 3 {
		t.Errorf("Retry: %v after %d tries, want true after 3", ok, tries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tries = 0
	ok = Retry(ctx, "test", time.Millisecond, func(context.Context) error {
		if tries++; tries == 2 {
			cancel()
		}
		return errors.New("never")
	})
	if ok || tries != 2 {
		t.Errorf("Retry after a stop: %v after %d tries, want false after 2", ok, tries)
	}
}
