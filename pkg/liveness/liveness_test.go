package liveness

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWatchFailsAfterFailuresInARow(t *testing.T) {
	// fail, fail, pass, then fail for good: only the second run of
	// failures counts to three
	results := []error{errors.New("a"), errors.New("b"), nil, errors.New("c"), errors.New("d"), errors.New("e")}
	calls := 0
	err := Watch(context.Background(), time.Millisecond, 3, func(context.Context) error {
		r := results[calls]
		calls++
		return r
	})
	if err == nil || !strings.Contains(err.Error(), "not live for 3 checks") || !strings.Contains(err.Error(), "e") {
		t.Fatalf("err %v", err)
	}
	if calls != 6 {
		t.Fatalf("%d checks, want 6", calls)
	}
}

func TestWatchEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(ctx, time.Millisecond, 1000, func(context.Context) error { return errors.New("down") })
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("a stop is no failure: %v", err)
	}
}
