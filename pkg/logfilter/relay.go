// Package logfilter keeps the upstream components' chatter out of
// edgeos's log: their informational lines, the warnings and errors they
// print while they wait for one another during start-up (a kubelet whose
// Node does not exist yet, a controller whose namespace is not created
// yet), the few that never mean a fault, and those caused by edgeos's own
// stop. edgeos's own messages, every fatal line and everything else at
// level W or E pass. --debug and -v turn the filter off. With
// --log-format json the relay also writes each line as a JSON object with
// the keys of edgeos's own JSON messages (time, level, msg).
//
// The upstream components write to the process's standard error (klog,
// its text logger, containerd's output), so the relay takes its place: a
// pipe becomes os.Stderr, and a goroutine copies what passes to the real
// standard error. The Go runtime's crash reports go to file descriptor 2
// directly and never through it.
package logfilter

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxLine bounds one line the relay holds; a longer one passes in pieces
// (with the fate of its start).
const maxLine = 64 << 10

// Options say what the relay does with each line.
type Options struct {
	// Filter hides the upstream noise (off with --debug and -v).
	Filter bool
	// JSON writes each line as one JSON object (--log-format json).
	JSON bool
	// Tap, where set, is given each line that passes (as text, before
	// any JSON form); it must not block. The node's log forwarder takes
	// edgeos's own lines this way.
	Tap func(line []byte)
}

// Relay filters what is written to os.Stderr after Start.
type Relay struct {
	opts  Options
	out   *os.File
	w     *os.File
	phase atomic.Int32
	done  chan struct{}
	once  sync.Once
}

// Start puts the relay in place of os.Stderr; what passes goes, as opts
// say, to the standard error it replaces. Call it before the upstream components set
// up their logging: they keep the os.Stderr they find.
func Start(opts Options) (*Relay, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	relay := &Relay{opts: opts, out: os.Stderr, w: w, done: make(chan struct{})}
	os.Stderr = w
	go relay.copy(r)
	return relay, nil
}

// Ready says edgeos is ready: start-up noise is over.
func (r *Relay) Ready() { r.phase.Store(int32(Running)) }

// Stopping says edgeos is stopping: the errors of its stop are noise.
func (r *Relay) Stopping() { r.phase.Store(int32(Stopping)) }

// Close lets the relay copy what was written so far, ends it and gives
// os.Stderr back; later writes through the relay's pipe, by whoever kept
// it, fail. Call it before the process exits.
func (r *Relay) Close() {
	r.once.Do(func() {
		os.Stderr = r.out
		_ = r.w.Close()
		<-r.done
	})
}

func (r *Relay) copy(pipe *os.File) {
	defer close(r.done)
	defer pipe.Close()
	br := bufio.NewReaderSize(pipe, maxLine)
	show := true     // the fate of the entry the next continued line belongs to
	partial := false // the last piece read ended inside a line
	level := "info"  // the level of the last entry, for its continuations
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && !partial && r.opts.Filter {
			if d := decide(string(line), Phase(r.phase.Load())); !d.continued {
				show = d.show
			}
		}
		if len(line) > 0 && show && r.opts.Tap != nil {
			r.opts.Tap(line)
		}
		switch {
		case len(line) == 0 || !show:
		case r.opts.JSON:
			var b []byte
			b, level = toJSON(strings.TrimSuffix(string(line), "\n"), time.Now(), level, partial)
			_, _ = r.out.Write(append(b, '\n'))
		default:
			_, _ = r.out.Write(line)
		}
		partial = err == bufio.ErrBufferFull
		if partial {
			continue
		}
		if err != nil {
			return
		}
	}
}
