// Command httpload sends HTTP GETs to one proxy from a fixed number of
// clients for a while, each client on its own kept-alive connection and
// waiting for its answer before the next request, and prints requests per
// second, median and p99 latency, and failures.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to get")
	host := flag.String("host", "", "Host header (default: the URL's)")
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "-url is required")
		os.Exit(2)
	}
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for range *clients {
		wg.Go(func() {
			// one connection per client, as a browser or service would keep
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				req, err := http.NewRequest(http.MethodGet, *url, nil)
				if err != nil {
					bad++
					break
				}
				if *host != "" {
					req.Host = *host
				}
				start := time.Now()
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			failed += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		fmt.Printf("rps 0 p50_us 0 p99_us 0 failed %d\n", failed)
		return
	}
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	fmt.Printf("rps %.0f p50_us %.0f p99_us %.0f failed %d\n", float64(len(lat))/duration.Seconds(), pct(0.5), pct(0.99), failed)
}
