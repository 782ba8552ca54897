package renewal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
)

func issue(t *testing.T, dir string, validity time.Duration) (*pki.CA, string, string) {
	t.Helper()
	ca, err := pki.EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "leaf.crt"), filepath.Join(dir, "leaf.key")
	if _, err := ca.EnsureLeaf(crt, key, pki.Leaf{CommonName: "leaf"}, validity); err != nil {
		t.Fatal(err)
	}
	return ca, crt, key
}

func TestNextCheckAndStatuses(t *testing.T) {
	dir := t.TempDir()
	_, crt, _ := issue(t, dir, 400*time.Hour)
	now := time.Now()
	sts, err := Statuses([]string{crt, filepath.Join(dir, "missing.crt")}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].Subject != "leaf" || sts[0].Due || sts[0].Expired {
		t.Fatalf("statuses %+v", sts)
	}
	if want := sts[0].NotAfter.Add(-100 * time.Hour); !sts[0].RenewAt.Equal(want) {
		t.Fatalf("renew at %v, want a quarter of the lifetime before expiry, %v", sts[0].RenewAt, want)
	}
	if wait, err := NextCheck([]string{crt}, now); err != nil || wait != maxSleep {
		t.Fatalf("a certificate due in 300 h: sleep %v (%v), want %v", wait, err, maxSleep)
	}
	later := sts[0].RenewAt.Add(-time.Minute)
	if wait, err := NextCheck([]string{crt}, later); err != nil || wait != time.Minute {
		t.Fatalf("a minute before it is due: sleep %v (%v)", wait, err)
	}
	if wait, _ := NextCheck([]string{crt}, sts[0].NotAfter.Add(time.Hour)); wait != minSleep {
		t.Fatalf("an expired certificate: sleep %v, want %v", wait, minSleep)
	}
	st, _ := Statuses([]string{crt}, sts[0].NotAfter)
	if !st[0].Due || !st[0].Expired {
		t.Fatalf("at its expiry: %+v", st[0])
	}

	if err := os.WriteFile(crt, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NextCheck([]string{crt}, now); err == nil {
		t.Fatal("a corrupt certificate file was not reported")
	}
}

// TestRunRenewsWhatIsDue runs the loop on a certificate of a few seconds:
// a failed renewal is tried again, a successful one moves the next wake
// to the new certificate's due point.
func TestRunRenewsWhatIsDue(t *testing.T) {
	dir := t.TempDir()
	ca, crt, key := issue(t, dir, 4*time.Second)
	var mu sync.Mutex
	calls, renewed := 0, make(chan struct{}, 10)
	r := New(Config{Files: []string{crt}, Renew: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return errors.New("server away")
		}
		if sts, err := Statuses([]string{crt}, time.Now()); err != nil || len(due(sts)) == 0 {
			t.Errorf("renew called when nothing is due (%v)", err)
			return nil
		}
		if _, err := ca.Renew(crt, key); err != nil {
			return err
		}
		renewed <- struct{}{}
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func() {}) }()
	for range 2 {
		select {
		case <-renewed:
		case err := <-done:
			t.Fatalf("the loop ended: %v", err)
		case <-time.After(time.Minute):
			t.Fatal("the certificate was not renewed")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Fatalf("renew called %d times, want 3 (one failure, then once per due point)", calls)
	}
}
