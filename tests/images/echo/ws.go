package main

import (
	"fmt"
	"net/http"

	"github.com/gorilla/websocket"
)

// wsEcho answers each WebSocket message with the hostname and the message.
func wsEcho(w http.ResponseWriter, r *http.Request, host string) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		kind, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(kind, []byte(fmt.Sprintf("%s: %s", host, msg))); err != nil {
			return
		}
	}
}
