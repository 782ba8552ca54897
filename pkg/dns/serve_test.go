package dns

import (
	"context"
	"net"
	"runtime/pprof"
	"sync"
	"testing"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/miekg/dns"
)

// Serve answers over UDP and TCP, and once ctx ends it returns with none
// of the goroutines it started still running, a TCP client's open
// connection included.
func TestServeEndsItsGoroutines(t *testing.T) {
	up, _ := fakeUpstream(t)
	srv := NewServer("cluster.local", []string{up}, nil, 10)
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	// Serve binds the address itself; a free port is found first.
	addr, err := listenFree()
	if err != nil {
		t.Fatal(err)
	}
	// the test's own goroutine carries the label while it runs Serve; it
	// is waited for below, so that only Serve's goroutines are counted
	var caller sync.WaitGroup
	caller.Go(func() {
		pprof.Do(ctx, pprof.Labels("component", "dns-serve-test"), func(ctx context.Context) {
			done <- srv.Serve(ctx, addr, func() { listening <- addr })
		})
	})
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network}
		if network == "tcp" {
			conn, err := c.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if r, _, err := c.ExchangeWithConn(q, conn); err != nil || len(r.Answer) != 1 {
				t.Fatalf("over tcp: %v %v", r, err)
			}
			continue // the connection stays open through the stop
		}
		if r, _, err := c.Exchange(q, addr); err != nil || len(r.Answer) != 1 {
			t.Fatalf("over %s: %v %v", network, r, err)
		}
	}
	if n := len(component.Lingering()["dns-serve-test"]); n < 3 {
		t.Fatalf("%d goroutines while serving; want Serve and both servers' loops", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after the stop: %v", err)
	}
	caller.Wait()
	if left := component.Lingering()["dns-serve-test"]; len(left) != 0 {
		t.Errorf("%d goroutines of Serve still run after it returned: %v", len(left), left)
	}
}

// listenFree finds a loopback port free for UDP (and, on a test machine,
// for TCP too).
func listenFree() (string, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer pc.Close()
	return pc.LocalAddr().String(), nil
}
