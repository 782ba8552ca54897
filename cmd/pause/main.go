// Command pause is the program of edgeos's built-in pause image: it holds a
// pod's namespaces open, reaps the zombies of a shared PID namespace, and
// exits on SIGINT or SIGTERM. Built statically, it is packed into the image
// that pkg/pause embeds in the edgeos binary.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
