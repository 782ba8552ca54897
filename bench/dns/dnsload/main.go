// Command dnsload sends DNS queries to one server from several workers for
// a while, each worker waiting for its answer before the next question, and
// prints queries per second, median and p99 latency, and failures.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:53", "server address")
	names := flag.String("names", "", "file of questions, one per line: TYPE NAME")
	workers := flag.Int("workers", 8, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()
	qs, err := questions(*names)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: time.Second}
			conn, err := c.Dial(*server)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer conn.Close()
			var mine []time.Duration
			bad := 0
			for i := w; time.Now().Before(deadline); i++ {
				m := new(dns.Msg)
				q := qs[i%len(qs)]
				m.SetQuestion(q.Name, q.Qtype)
				t0 := time.Now()
				r, _, err := c.ExchangeWithConn(m, conn)
				if err != nil || r.Rcode == dns.RcodeServerFailure {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		fmt.Fprintln(os.Stderr, "no answers")
		os.Exit(1)
	}
	p := func(q int) float64 { return float64(lat[(len(lat)*q+99)/100-1].Microseconds()) }
	fmt.Printf("qps %.0f p50_us %.0f p99_us %.0f failed %d\n", float64(len(lat))/duration.Seconds(), p(50), p(99), failed)
}

func questions(path string) ([]dns.Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dns.Question
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		t, name, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		out = append(out, dns.Question{Name: dns.Fqdn(name), Qtype: dns.StringToType[t], Qclass: dns.ClassINET})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no questions", path)
	}
	return out, sc.Err()
}
