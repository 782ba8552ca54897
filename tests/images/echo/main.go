// Command echo is the test image's program: an HTTP server that answers
// every request with its hostname, the path, and $MESSAGE. For tests that
// look inside a pod, `echo env NAME` prints a variable, `echo cat FILE` a
// file, and `echo get URL` the body of an HTTP GET from inside the pod. It is built statically and packed by tests/images into an OCI
// archive.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
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
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		os.Exit(0)
	}()
	fmt.Printf("echo listening on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
