// Command netperf measures a TCP path for bench/: `netperf serve ADDR`
// discards what it is sent and echoes single bytes back; `netperf send
// ADDR MB` sends MB megabytes and prints the throughput in MB/s; `netperf
// rtt ADDR N` makes N one-byte round trips and prints the median in
// microseconds; `netperf watch ADDR` opens a new connection every
// millisecond or so, forever, and prints "<unix ns> open|closed" each time
// the outcome changes, stamped with the start of the attempt that changed
// it. It is built statically and packed by tests/images.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netperf serve ADDR | send ADDR MB | rtt ADDR N | watch ADDR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "send":
		err = send(os.Args[2], arg(3))
	case "rtt":
		err = rtt(os.Args[2], arg(3))
	case "watch":
		watch(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func arg(i int) int {
	if len(os.Args) <= i {
		fmt.Fprintln(os.Stderr, "missing count")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "bad count %q\n", os.Args[i])
		os.Exit(2)
	}
	return n
}

// The first byte of a connection says what it is for: 's' a stream to
// discard, 'r' round trips.
func serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("netperf listening on", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			kind := make([]byte, 1)
			if _, err := io.ReadFull(c, kind); err != nil {
				return
			}
			if kind[0] == 's' {
				n, _ := io.Copy(io.Discard, c)
				fmt.Fprintf(c, "%d", n)
				return
			}
			b := make([]byte, 1)
			for {
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				if _, err := c.Write(b); err != nil {
					return
				}
			}
		}()
	}
}

func send(addr string, mb int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte{'s'}); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for range mb {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	// wait for the receiver to have it all
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if string(got) != strconv.Itoa(mb<<20) {
		return fmt.Errorf("receiver got %s bytes of %d", got, mb<<20)
	}
	fmt.Printf("%.1f\n", float64(mb)/elapsed.Seconds())
	return nil
}

func rtt(addr string, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetNoDelay(true)
	if _, err := c.Write([]byte{'r'}); err != nil {
		return err
	}
	b := []byte{'x'}
	times := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := c.Write(b); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	fmt.Printf("%.1f\n", float64(times[len(times)/2].Nanoseconds())/1000)
	return nil
}

// watch's attempts time out quickly: a dropped SYN is told by the timeout,
// and the next attempt must not wait long behind it.
const watchTimeout = 100 * time.Millisecond

func watch(addr string) {
	state := ""
	for {
		start := time.Now()
		now := "closed"
		if c, err := net.DialTimeout("tcp", addr, watchTimeout); err == nil {
			now = "open"
			// a reset, not TIME_WAIT: a thousand connections a second
			// would otherwise use up the ephemeral ports in half a minute
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		if now != state {
			fmt.Printf("%d %s\n", start.UnixNano(), now)
			state = now
		}
		time.Sleep(time.Millisecond)
	}
}
