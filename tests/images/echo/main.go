// Command echo is the test image's program: an HTTP server that answers
// every request with its hostname, the path, and $MESSAGE. For tests that
// look inside a pod, `echo env NAME` prints a variable, `echo cat FILE` a
// file, `echo get URL` the body of an HTTP GET from inside the pod, and
// `echo udp HOST:PORT` the answer of the UDP echo server at that address,
// and `echo dns TYPE NAME [SERVER]` the rcode and records of a DNS query,
// through the search list of /etc/resolv.conf as a stub resolver applies it
// (or straight to SERVER). `echo write FILE TEXT` writes a file.
// The server also answers UDP datagrams on the same port number with its
// hostname and the sender's address. /headers answers with the request's
// X-Forwarded headers, /ws echoes WebSocket messages. On SIGTERM it stops
// as a well-behaved server does: it stops accepting, finishes the requests
// under way, then exits. It is built statically and packed by tests/images
// into an OCI archive.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "dns" {
		server := ""
		if len(os.Args) > 4 {
			server = os.Args[4]
		}
		if err := lookup(os.Args[2], os.Args[3], server); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "write" {
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 3 {
		switch os.Args[1] {
		case "env":
			fmt.Println(os.Getenv(os.Args[2]))
			return
		case "get":
			c := http.Client{Timeout: 5 * time.Second}
			resp, err := c.Get(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			io.Copy(os.Stdout, resp.Body)
			resp.Body.Close()
			return
		case "udp":
			if err := udpAsk(os.Args[2]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		case "cat":
			b, err := os.ReadFile(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Stdout.Write(b)
			return
		}
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "echo from %s: %s %s\n", host, r.URL.Path, os.Getenv("MESSAGE"))
	})
	http.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "echo from %s: host=%s for=%s proto=%s forwarded-host=%s\n", host, r.Host,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
	})
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { wsEcho(w, r, host) })
	srv := &http.Server{Addr: ":" + port}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		os.Exit(0)
	}()
	go udpServe(":"+port, host)
	fmt.Printf("echo listening on :%s\n", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	select {} // Shutdown is under way; it exits
}

// udpServe answers each datagram with the hostname and the sender.
func udpServe(addr, host string) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			continue
		}
		_, _ = conn.WriteTo([]byte(fmt.Sprintf("udp echo from %s to %s: %s\n", host, from, buf[:n])), from)
	}
}

// udpAsk sends one datagram and prints the answer, retrying a few times
// since UDP may drop the first one while a route or ARP entry settles.
func udpAsk(addr string) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	for range 5 {
		if _, err := conn.Write([]byte("ping")); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		if err == nil {
			os.Stdout.Write(buf[:n])
			return nil
		}
	}
	return fmt.Errorf("no UDP answer from %s", addr)
}
