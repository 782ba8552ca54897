package vip

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePool(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "192.168.1.240/29", want: "192.168.1.240-192.168.1.247"},
		{in: "10.0.0.9-10.0.0.7,10.0.0.1", err: "ends before it starts"},
		{in: " 10.0.0.5 - 10.0.0.6 , 10.0.0.1/32", want: "10.0.0.1,10.0.0.5-10.0.0.6"},
		{in: "10.0.0.0/30,10.0.0.3-10.0.0.9", err: "overlap"},
		{in: "10.0.0.1/24", err: "host bits"},
		{in: "fd00::/120", err: "not IPv4"},
		{in: "10.0.0.1-fd00::1", err: "not IPv4"},
		{in: "10.0.0.x-10.0.0.2", err: "not a CIDR, a range first-last or an address"},
		{in: "gateway", err: "not a CIDR, a range first-last or an address"},
		{in: "", want: ""},
	} {
		p, err := ParsePool(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParsePool(%q) = %v, %v; want an error with %q", tc.in, p, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParsePool(%q) = %q, %v; want %q", tc.in, p, err, tc.want)
		}
		if again, err := ParsePool(p.String()); err != nil || again.String() != p.String() {
			t.Errorf("ParsePool(%q) read back as %q, %v", p, again, err)
		}
	}
	p, _ := ParsePool("10.0.0.4/30")
	for prefix, over := range map[string]bool{"10.0.0.0/24": true, "10.0.0.7/32": true, "10.0.0.0/30": false, "10.0.0.8/29": false, "fd00::/8": false} {
		if p.Overlaps(netip.MustParsePrefix(prefix)) != over {
			t.Errorf("%s overlaps %s: want %v", p, prefix, over)
		}
	}
	for a, in := range map[string]bool{"10.0.0.3": false, "10.0.0.4": true, "10.0.0.7": true, "10.0.0.8": false} {
		if p.Contains(netip.MustParseAddr(a)) != in {
			t.Errorf("%s in %s: want %v", a, p, in)
		}
	}
}

func TestPlan(t *testing.T) {
	p, err := ParsePool("10.0.0.10-10.0.0.12,10.0.1.0/31")
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	got := Plan(p, []Claim{
		{Key: "old-new"},                             // the lowest free, after those asking and keeping
		{Key: "keeps", Had: ip("10.0.0.11")},         // keeps it
		{Key: "asks", Asked: ip("10.0.0.10")},        // asked, and given before anyone's lowest free
		{Key: "asks-taken", Asked: ip("10.0.0.10")},  // an older one has it
		{Key: "outside", Asked: ip("192.168.0.1")},   // refused
		{Key: "had-taken", Had: ip("10.0.0.11")},     // another keeps it: a new one
		{Key: "had-outside", Had: ip("192.168.0.1")}, // the pool changed: a new one
		{Key: "last"}, // the pool is used up
		{Key: "asks-keeps", Asked: ip("10.0.1.1"), Had: ip("10.0.0.12")}, // asking wins over keeping
	})
	want := map[string]string{
		"old-new": "10.0.0.12", "keeps": "10.0.0.11", "asks": "10.0.0.10", "asks-taken": "given to an older Gateway",
		"outside": "refused: 192.168.0.1 is not in", "had-taken": "10.0.1.0", "had-outside": "used up",
		"last": "used up", "asks-keeps": "10.0.1.1",
	}
	for k, w := range want {
		g := got[k]
		s := g.Why
		if g.Addr.IsValid() {
			s = g.Addr.String()
		} else if g.Refused {
			s = "refused: " + s
		}
		if !strings.HasPrefix(s, w) && !strings.Contains(s, w) {
			t.Errorf("%s: got %q, want %q", k, s, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d answers, want %d", len(got), len(want))
	}
}

func TestHolder(t *testing.T) {
	nodes := []string{"a", "b", "c", "d"}
	count := map[string]int{}
	moved := 0
	for i := range 200 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)})
		h := Holder(a, nodes)
		count[h]++
		if h2 := Holder(a, []string{"d", "c", "b", "a"}); h2 != h {
			t.Fatalf("%s: holder %s or %s by the nodes' order", a, h, h2)
		}
		// without c, only c's addresses move
		without := Holder(a, []string{"a", "b", "d"})
		if h != "c" && without != h {
			t.Errorf("%s moved from %s to %s when c left", a, h, without)
		}
		if h == "c" {
			moved++
		}
	}
	for _, n := range nodes {
		if count[n] < 20 {
			t.Errorf("node %s holds %d of 200 addresses: %v", n, count[n], count)
		}
	}
	if Holder(netip.MustParseAddr("10.0.0.1"), nil) != "" {
		t.Error("a holder without nodes")
	}
	t.Log(fmt.Sprint(count), moved)
}
