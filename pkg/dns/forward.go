package dns

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Upstreams reads the nameservers of a resolv.conf, leaving out the
// addresses the cluster DNS itself answers on: forwarding to them would
// loop.
func Upstreams(resolvConf string, self []net.IP) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return nil, fmt.Errorf("upstream resolvers from %s: %w", resolvConf, err)
	}
	var out []string
	for _, s := range cc.Servers {
		ip := net.ParseIP(s)
		if ip == nil {
			continue
		}
		loop := false
		for _, own := range self {
			loop = loop || own.Equal(ip)
		}
		if loop {
			continue
		}
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out, nil
}

// forwarder asks the upstream resolvers in order and caches their answers.
type forwarder struct {
	upstreams []string
	udp, tcp  *dns.Client
	cache     *answerCache
}

func newForwarder(upstreams []string, cacheSize int) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &dns.Client{Net: "udp", Timeout: 2 * time.Second, UDPSize: dns.DefaultMsgSize},
		tcp:       &dns.Client{Net: "tcp", Timeout: 2 * time.Second},
		cache:     newCache(cacheSize),
	}
}

var errNoUpstream = errors.New("no upstream resolver answered")

// exchange answers q from the cache or upstream. The reply's ID and
// question are the caller's to set.
func (f *forwarder) exchange(q dns.Question, do bool) (*dns.Msg, error) {
	if m := f.cache.get(q, do); m != nil {
		return m, nil
	}
	req := new(dns.Msg)
	req.SetQuestion(q.Name, q.Qtype)
	req.Question[0].Qclass = q.Qclass
	req.RecursionDesired = true
	req.SetEdns0(dns.DefaultMsgSize, do)
	var lastErr error = errNoUpstream
	for _, up := range f.upstreams {
		m, _, err := f.udp.Exchange(req, up)
		if err == nil && m.Truncated {
			m, _, err = f.tcp.Exchange(req, up)
		}
		if err != nil {
			lastErr = err
			continue
		}
		if m.Rcode == dns.RcodeServerFailure || m.Rcode == dns.RcodeRefused {
			lastErr = fmt.Errorf("%s answered %s", up, dns.RcodeToString[m.Rcode])
			continue
		}
		f.cache.put(q, do, m)
		return m, nil
	}
	return nil, lastErr
}

// answerCache holds upstream answers for their TTL (at most maxTTL), negative
// ones for the SOA minimum (at most negTTL). It is bounded: when full,
// expired entries go first, then arbitrary ones.
type answerCache struct {
	mu      sync.Mutex
	size    int
	entries map[cacheKey]cacheEntry
	now     func() time.Time
}

type cacheKey struct {
	name          string
	qtype, qclass uint16
	do            bool
}

type cacheEntry struct {
	msg     *dns.Msg
	expires time.Time
}

const (
	maxTTL = 300 * time.Second
	negTTL = 30 * time.Second
)

func newCache(size int) *answerCache {
	return &answerCache{size: size, entries: map[cacheKey]cacheEntry{}, now: time.Now}
}

func key(q dns.Question, do bool) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, do: do}
}

func (c *answerCache) get(q dns.Question, do bool) *dns.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key(q, do)]
	if !ok {
		return nil
	}
	now := c.now()
	if !now.Before(e.expires) {
		delete(c.entries, key(q, do))
		return nil
	}
	m := e.msg.Copy()
	left := uint32(e.expires.Sub(now) / time.Second)
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if rr.Header().Rrtype != dns.TypeOPT && rr.Header().Ttl > left {
				rr.Header().Ttl = left
			}
		}
	}
	return m
}

func (c *answerCache) put(q dns.Question, do bool, m *dns.Msg) {
	ttl := cacheTTL(m)
	if ttl <= 0 || c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		now := c.now()
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key(q, do)] = cacheEntry{msg: m.Copy(), expires: c.now().Add(ttl)}
}

// cacheTTL is how long m may be kept: the smallest TTL of its answers, or
// for a negative answer its SOA's minimum.
func cacheTTL(m *dns.Msg) time.Duration {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return 0
	}
	if len(m.Answer) == 0 {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return min(time.Duration(min(soa.Minttl, soa.Hdr.Ttl))*time.Second, negTTL)
			}
		}
		return 0
	}
	least := maxTTL
	for _, rr := range m.Answer {
		least = min(least, time.Duration(rr.Header().Ttl)*time.Second)
	}
	return least
}
