package apilb

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/component/componenttest"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestRank(t *testing.T) {
	servers := []string{"10.0.0.3:6443", "10.0.0.1:6443", "10.0.0.2:6443"}
	for _, tc := range []struct {
		name, def  string
		discovered bool
		first      string
		last       string
	}{
		{name: "--server is a server", def: "10.0.0.2:6443", discovered: true, first: "10.0.0.2:6443"},
		{name: "kept list before the API answered", def: "10.0.0.9:6443", first: "10.0.0.9:6443"},
		{name: "a registration address", def: "vip.example:6443", discovered: true, last: "vip.example:6443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rank(tc.def, servers, tc.discovered, "node-a")
			if (tc.first != "" && got[0] != tc.first) || (tc.last != "" && got[len(got)-1] != tc.last) || !slices.Contains(got, tc.def) {
				t.Errorf("rank = %v", got)
			}
			if n := len(slices.Compact(slices.Sorted(slices.Values(got)))); n != len(got) || n != 3+btoi(!slices.Contains(servers, tc.def)) {
				t.Errorf("rank = %v: each server once, --server always", got)
			}
		})
	}
	seen := map[string]bool{}
	for i := range 20 {
		seen[rank("vip:6443", servers, true, "node-"+string(rune('a'+i)))[0]] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 nodes all start at %v: they do not spread", seen)
	}
	if got := candidates([]string{"a", "b", "c"}, map[string]bool{"a": true}); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Errorf("candidates = %v: a dead server goes last, and stays", got)
	}
	if got := rank("a:1", nil, true, "n"); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("no servers known: %v, want --server", got)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestServers(t *testing.T) {
	slice := &discoveryv1.EndpointSlice{
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](6443)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}},
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
			{Addresses: []string{"fd00::1"}},
		},
	}
	got := Servers([]*discoveryv1.EndpointSlice{slice, {}})
	if want := []string{"10.0.0.1:6443", "10.0.0.2:6443", "[fd00::1]:6443"}; !slices.Equal(got, want) {
		t.Errorf("Servers = %v, want %v", got, want)
	}
}

func TestState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "servers.json")
	if got, err := Load(path); err != nil || got.Server != "" || got.Servers != nil {
		t.Errorf("no file: %v, %v", got, err)
	}
	if err := save(path, Kept{Server: "vip:6443", Servers: []string{"10.0.0.1:6443"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || got.Server != "vip:6443" || !slices.Equal(got.Servers, []string{"10.0.0.1:6443"}) {
		t.Errorf("load after save: %v, %v", got, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v %v", st, err)
	}
	for _, bad := range []string{"{", `{"servers":["no-port"]}`, `{"server":"no-port"}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil {
			t.Errorf("%q loaded", bad)
		}
	}
}

// backend is a server that greets each connection with its name and then
// holds it open.
type backend struct {
	name, addr string
	mu         sync.Mutex
	ln         net.Listener
	conns      []net.Conn
}

func startBackend(t *testing.T, name, addr string) *backend {
	t.Helper()
	b := &backend{name: name, addr: addr}
	b.start(t)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.ln, b.addr = ln, ln.Addr().String()
	b.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			_, _ = c.Write([]byte(b.name + "\n"))
		}
	}()
}

// stop closes the listener and every connection, as a killed server's
// kernel does.
func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ln.Close()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func runLB(t *testing.T, cfg Config) *LB {
	t.Helper()
	cfg.Listen, cfg.CheckInterval, cfg.DialTimeout = freeAddr(t), 20*time.Millisecond, time.Second
	l := New(cfg)
	componenttest.Run(t, l)
	return l
}

// greeting connects through the load balancer and reads which backend
// answered ("" when the connection ended first).
func greeting(t *testing.T, l *LB) (string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", l.cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), c
}

// waitGreeting retries until want answers, within a bound that only
// catches a hang.
func waitGreeting(t *testing.T, l *LB, want string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, c := greeting(t, l)
		if got == want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections reach %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closed waits for c to end: the load balancer moved it.
func closed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("%s: the connection stayed open (%v)", what, err)
	}
}

func TestFailoverAndReturn(t *testing.T) {
	a, b := startBackend(t, "a", "127.0.0.1:0"), startBackend(t, "b", "127.0.0.1:0")
	state := filepath.Join(t.TempDir(), "servers.json")
	found := make(chan []string, 1)
	l := runLB(t, Config{Server: a.addr, NodeName: "n", StateFile: state,
		Discover: func(ctx context.Context, report func([]string)) error {
			report(<-found)
			<-ctx.Done()
			return nil
		}})
	if got, _ := greeting(t, l); got != "a" {
		t.Fatalf("first connection reached %q, want --server", got)
	}
	found <- []string{a.addr, b.addr}
	waitState(t, state, []string{a.addr, b.addr})

	_, toA := greeting(t, l)
	a.stop()
	closed(t, toA, "a connection to a killed server")
	toB := waitGreeting(t, l, "b")

	a.start(t) // back on its address
	closed(t, toB, "a connection to b once --server is back")
	waitGreeting(t, l, "a")
}

func waitState(t *testing.T, path string, want []string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := Load(path)
		if err == nil && slices.Equal(got.Servers, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kept servers %v (%v), want %v", got, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeptServers starts with --server dead and the servers of an earlier
// run on disk: a kept one answers, including one --server never was.
func TestKeptServers(t *testing.T) {
	b := startBackend(t, "b", "127.0.0.1:0")
	state := filepath.Join(t.TempDir(), "servers.json")
	dead := freeAddr(t)
	if err := save(state, Kept{Server: dead, Servers: []string{dead, b.addr}}); err != nil {
		t.Fatal(err)
	}
	l := runLB(t, Config{Server: dead, NodeName: "n", StateFile: state})
	if got, _ := greeting(t, l); got != "b" {
		t.Fatalf("reached %q, want the kept server b", got)
	}
	// a corrupt file: --server alone, still served
	if err := os.WriteFile(state, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	l2 := runLB(t, Config{Server: b.addr, NodeName: "n", StateFile: state})
	if got, _ := greeting(t, l2); got != "b" {
		t.Fatalf("with a corrupt state file: reached %q, want --server", got)
	}
}

// TestRegistrationAddress: a --server that is not one of the servers is
// used until the servers are known, then kept as the last resort.
func TestRegistrationAddress(t *testing.T) {
	vip, a := startBackend(t, "vip", "127.0.0.1:0"), startBackend(t, "a", "127.0.0.1:0")
	found := make(chan []string, 1)
	l := runLB(t, Config{Server: vip.addr, NodeName: "n", StateFile: filepath.Join(t.TempDir(), "s.json"),
		Discover: func(ctx context.Context, report func([]string)) error {
			report(<-found)
			<-ctx.Done()
			return nil
		}})
	if got, _ := greeting(t, l); got != "vip" {
		t.Fatalf("before the servers are known: %q, want the registration address", got)
	}
	found <- []string{a.addr}
	waitGreeting(t, l, "a")
	a.stop()
	waitGreeting(t, l, "vip")
}

// TestNothingBetter: with every server failing its check, connections
// stay where they are, and new ones are still made.
func TestNothingBetter(t *testing.T) {
	a := startBackend(t, "a", "127.0.0.1:0")
	checked := make(chan struct{}, 100)
	l := runLB(t, Config{Server: a.addr, NodeName: "n", StateFile: filepath.Join(t.TempDir(), "s.json"),
		Check: func(context.Context, string) error {
			select {
			case checked <- struct{}{}:
			default:
			}
			return errors.New("not ready")
		}})
	got, c := greeting(t, l)
	if got != "a" {
		t.Fatalf("reached %q", got)
	}
	for range 5 {
		<-checked
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !os.IsTimeout(err) {
		t.Fatalf("the connection to the only server was closed after failed checks: %v", err)
	}
	if got, _ := greeting(t, l); got != "a" {
		t.Fatalf("a new connection reached %q, want the only server", got)
	}
}
