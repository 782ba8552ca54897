// Package vip gives Gateways addresses of their own on the nodes' network
// (--gateway-addresses): the pool they come from and the plan that hands
// them out, the node that holds each one, and the holding itself, the
// address on that node's interface announced by gratuitous ARP.
package vip

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
)

// Pool is a set of IPv4 addresses: ranges, in order, not overlapping.
// The zero Pool is empty.
type Pool struct{ ranges []span }

type span struct{ first, last netip.Addr }

// ParsePool reads a comma-separated list of IPv4 CIDRs (192.168.1.240/28,
// every address of it), ranges (192.168.1.240-192.168.1.250) and
// addresses. Only IPv4: an address moves between nodes by ARP.
func ParsePool(s string) (Pool, error) {
	var p Pool
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sp, err := parseSpan(part)
		if err != nil {
			return Pool{}, err
		}
		p.ranges = append(p.ranges, sp)
	}
	slices.SortFunc(p.ranges, func(a, b span) int { return a.first.Compare(b.first) })
	for i := 1; i < len(p.ranges); i++ {
		if p.ranges[i].first.Compare(p.ranges[i-1].last) <= 0 {
			return Pool{}, fmt.Errorf("address ranges %s and %s overlap", p.ranges[i-1], p.ranges[i])
		}
	}
	return p, nil
}

func parseSpan(s string) (span, error) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return span{}, fmt.Errorf("%q is not a CIDR: %v", s, err)
		}
		if !prefix.Addr().Is4() {
			return span{}, fmt.Errorf("%q is not IPv4 (addresses move between nodes by ARP)", s)
		}
		if prefix.Masked() != prefix {
			return span{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, prefix.Masked())
		}
		return spanOf(prefix), nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a // one address
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(a))
	last, err2 := netip.ParseAddr(strings.TrimSpace(b))
	if err := errors.Join(err1, err2); err != nil {
		return span{}, fmt.Errorf("%q is not a CIDR, a range first-last or an address: %v", s, err)
	}
	if !first.Is4() || !last.Is4() {
		return span{}, fmt.Errorf("range %q is not IPv4 (addresses move between nodes by ARP)", s)
	}
	if last.Less(first) {
		return span{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return span{first, last}, nil
}

// spanOf is every address of an IPv4 prefix.
func spanOf(prefix netip.Prefix) span {
	first := prefix.Masked().Addr()
	last := first.As4()
	for i := range last {
		bits := max(0, min(8, prefix.Bits()-8*i))
		last[i] |= byte(0xff >> bits)
	}
	return span{first, netip.AddrFrom4(last)}
}

func (s span) String() string {
	if s.first == s.last {
		return s.first.String()
	}
	return s.first.String() + "-" + s.last.String()
}

// String is the pool as ParsePool reads it back.
func (p Pool) String() string {
	parts := make([]string, len(p.ranges))
	for i, r := range p.ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Empty: no address at all.
func (p Pool) Empty() bool { return len(p.ranges) == 0 }

// Contains reports whether a is one of the pool's addresses.
func (p Pool) Contains(a netip.Addr) bool { return p.meets(span{a, a}) }

// Overlaps reports whether an address of the prefix is in the pool.
func (p Pool) Overlaps(prefix netip.Prefix) bool {
	return prefix.Addr().Is4() && p.meets(spanOf(prefix)) // the pool is IPv4
}

// meets reports whether an address of other is in the pool.
func (p Pool) meets(other span) bool {
	for _, r := range p.ranges {
		if r.first.Compare(other.last) <= 0 && other.first.Compare(r.last) <= 0 {
			return true
		}
	}
	return false
}

// firstFree is the lowest address of the pool not in taken.
func (p Pool) firstFree(taken map[netip.Addr]bool) (netip.Addr, bool) {
	for _, r := range p.ranges {
		// at most len(taken) addresses of a range are taken
		for a, n := r.first, 0; n <= len(taken); a, n = a.Next(), n+1 {
			if !taken[a] {
				return a, true
			}
			if a == r.last {
				break
			}
		}
	}
	return netip.Addr{}, false
}

// Claim is what one user of the pool asks for, for Plan.
type Claim struct {
	// Key names the user (a Gateway's namespace/name).
	Key string
	// Asked is the address the user asks for; invalid: any.
	Asked netip.Addr
	// Had is the address it was given before (as its status says);
	// invalid: none.
	Had netip.Addr
}

// Given is Plan's answer to one claim: an address, or why none.
type Given struct {
	Addr netip.Addr
	// Refused: the claim asked for an address outside the pool.
	Refused bool
	// Why no address was given (Addr invalid).
	Why string
}

// Plan gives each claim an address, claims taken in order (oldest first):
// first those asking for an address, then those keeping the one they had,
// then the others the lowest free one. An address is given once.
func Plan(p Pool, claims []Claim) map[string]Given {
	out := make(map[string]Given, len(claims))
	taken := map[netip.Addr]bool{}
	give := func(c Claim, a netip.Addr) {
		out[c.Key] = Given{Addr: a}
		taken[a] = true
	}
	for _, c := range claims {
		switch {
		case !c.Asked.IsValid():
		case !p.Contains(c.Asked):
			out[c.Key] = Given{Refused: true, Why: fmt.Sprintf("%s is not in the Gateways' address pool (%s)", c.Asked, p)}
		case taken[c.Asked]:
			out[c.Key] = Given{Why: fmt.Sprintf("%s is given to an older Gateway", c.Asked)}
		default:
			give(c, c.Asked)
		}
	}
	for _, c := range claims {
		if _, done := out[c.Key]; !done && c.Had.IsValid() && p.Contains(c.Had) && !taken[c.Had] {
			give(c, c.Had)
		}
	}
	for _, c := range claims {
		if _, done := out[c.Key]; done {
			continue
		}
		if a, ok := p.firstFree(taken); ok {
			give(c, a)
		} else {
			out[c.Key] = Given{Why: fmt.Sprintf("the Gateways' address pool (%s) is used up", p)}
		}
	}
	return out
}

// Holder is the node that holds a, of the nodes that may: the same on
// every node that sees the same nodes (rendezvous hashing, so that a node
// joining or leaving moves only the addresses it takes or held). "" when
// there is no node.
func Holder(a netip.Addr, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(a.String() + "\x00" + n))
		score := h.Sum64()
		if best == "" || score > bestScore || score == bestScore && cmp.Less(n, best) {
			best, bestScore = n, score
		}
	}
	return best
}
