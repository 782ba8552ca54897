// Package sdnotify tells systemd that edgeos is ready (Type=notify units),
// over the datagram socket systemd names in $NOTIFY_SOCKET.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// Ready sends READY=1. Without $NOTIFY_SOCKET (not run by systemd) it does
// nothing.
func Ready() error { return send("READY=1") }

func send(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // abstract socket
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("systemd notify socket: %w", err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
