package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Server answers DNS: names in the cluster zone, and reverse names of the
// cluster's networks, from its table; every other name through the
// forwarder.
type Server struct {
	current atomic.Pointer[table]
	fwd     *forwarder
	// reverse are the networks (Services, pods) whose in-addr.arpa names
	// the server is authoritative for.
	reverse []*net.IPNet
	// answers counts the answers sent, by rcode; nil counts none
	answers *prometheus.CounterVec
}

// NewServer makes a server for zone with an empty table.
func NewServer(zone string, upstreams []string, reverse []*net.IPNet, cacheSize int) *Server {
	s := &Server{fwd: newForwarder(upstreams, cacheSize), reverse: reverse}
	s.current.Store(newTable(zone))
	return s
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := s.reply(r)
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		size = dns.MaxMsgSize
	}
	m.Truncate(size)
	if s.answers != nil {
		rcode := dns.RcodeToString[m.Rcode]
		if rcode == "" {
			rcode = "other"
		}
		s.answers.WithLabelValues(rcode).Inc()
	}
	if err := w.WriteMsg(m); err != nil {
		logrus.Debugf("DNS: answering %v: %v", w.RemoteAddr(), err)
	}
}

// countAnswers publishes the count of answers, by rcode, to reg.
func (s *Server) countAnswers(reg prometheus.Registerer) {
	s.answers = telemetry.CounterVec(reg, prometheus.CounterOpts{Subsystem: "dns", Name: "answers_total",
		Help: "Cluster DNS answers sent, by response code (NOERROR, NXDOMAIN, SERVFAIL, ...)."}, "rcode")
}

func (s *Server) reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		return m.SetRcode(r, dns.RcodeFormatError)
	}
	q := r.Question[0]
	do := r.IsEdns0() != nil && r.IsEdns0().Do()
	t := s.current.Load()
	if t.inZone(q.Name) || t.ptr[strings.ToLower(q.Name)] != nil || ptrInNets(q.Name, s.reverse) {
		a := t.lookup(q)
		m.SetRcode(r, a.rcode)
		m.Authoritative, m.RecursionAvailable = true, true
		m.Answer, m.Extra = a.answer, a.extra
		if a.external != "" {
			if up, err := s.fwd.exchange(dns.Question{Name: a.external, Qtype: q.Qtype, Qclass: q.Qclass}, do); err == nil {
				m.Answer = append(m.Answer, up.Answer...)
			}
		}
		if len(m.Answer) == 0 {
			m.Ns = []dns.RR{t.soa()}
		}
		return m
	}
	up, err := s.fwd.exchange(q, do)
	if err != nil {
		logrus.Debugf("DNS: forwarding %s: %v", q.Name, err)
		m.SetRcode(r, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		return m
	}
	m = up.Copy()
	m.Id = r.Id
	m.Question = r.Question
	m.Response = true
	m.RecursionDesired = r.RecursionDesired
	return m
}

// Serve answers on addr over UDP and TCP until ctx ends; ready is called
// once both listen.
func (s *Server) Serve(ctx context.Context, addr string, ready func()) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("cluster DNS on udp %s: %w", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("cluster DNS on tcp %s: %w", addr, err)
	}
	servers := []*dns.Server{
		{PacketConn: pc, Handler: s, ReadTimeout: 2 * time.Second},
		{Listener: l, Handler: s, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }},
	}
	errc := make(chan error, len(servers))
	started := make(chan struct{}, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		wg.Go(func() { errc <- srv.ActivateAndServe() })
	}
	for running := 0; running < len(servers) && err == nil; {
		select {
		case <-started:
			running++
		case err = <-errc:
		}
	}
	if err == nil {
		ready()
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	}
	// Shutdown unblocks a started server's connections; closing the
	// sockets also ends a server that had not started yet. Every loop's
	// return is waited for, so that no goroutine of the DNS outlives Serve.
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	pc.Close()
	l.Close()
	wg.Wait()
	if err != nil {
		return errors.Join(errors.New("cluster DNS stopped"), err)
	}
	return nil
}
