package logforward

import (
	"bytes"
	"sync"
	"time"
)

// ownMax bounds the lines of edgeos's own held between two passes of the
// forwarder; more in that second (a flood, or before the forwarder runs)
// are dropped and counted.
const ownMax = 4096

// Own holds edgeos's own log lines, as the log relay passes them, until
// the forwarder puts them in the spool. Its Write never blocks the relay.
type Own struct {
	mu      sync.Mutex
	lines   []Entry
	dropped int
}

// NewOwn makes an empty holder; give its Write to the log relay.
func NewOwn() *Own { return &Own{} }

// Write takes one line (or a piece of a long one).
func (o *Own) Write(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.lines) >= ownMax {
		o.dropped++
		return
	}
	o.lines = append(o.lines, Entry{Time: time.Now().UnixNano(), Line: string(line)})
}

// take returns the lines held and the count dropped since the last take.
func (o *Own) take() ([]Entry, int) {
	if o == nil {
		return nil, 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	lines, dropped := o.lines, o.dropped
	o.lines, o.dropped = nil, 0
	return lines, dropped
}
