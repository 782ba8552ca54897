// Command burn is a test image's program: it keeps $MILLICORES thousandths
// of a core busy (a duty cycle within every 100 ms) until it is stopped,
// and idles when $MILLICORES is 0 or unset. It is the load an autoscaler
// test scales on.
package main

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const period = 100 * time.Millisecond

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	m, _ := strconv.Atoi(os.Getenv("MILLICORES"))
	m = max(0, min(m, 1000))
	busy := period * time.Duration(m) / 1000
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		for end := time.Now().Add(busy); time.Now().Before(end); {
			// spin
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
