package component

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
)

// labelKey is the profiler label Manager puts on each component's
// goroutine. The runtime copies a goroutine's labels to every goroutine it
// starts, so each goroutine a component starts, itself or through a
// library, carries the component's name.
const labelKey = "component"

// Shared runs fn in a goroutine of its own, whose goroutines belong to
// the process, not to the component calling Shared: for caches that serve
// every component and live as long as the process, such as client-go's
// transports (one per set of credentials, with a certificate-reloading
// loop each), which would otherwise be counted as goroutines of whichever
// component built the first client.
func Shared(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// an empty owner, which Lingering does not count
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(labelKey, "")))
		fn()
	}()
	<-done
}

// Lingering lists, by component, the goroutines running now that a
// component started, each by the function it started in; those that have
// returned and are only being torn down are not running. Goroutines of
// pooled connections (net/http's and HTTP/2's connection loops) are not
// counted: client-go shares its transports between the clients of a
// process, so a connection belongs to the pool, not to the component whose
// request happened to dial it.
func Lingering() map[string][]string {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return nil
	}
	return lingering(buf.Bytes())
}

// lingering reads a goroutine profile in its debug=1 text form: groups of
// identical stacks, each a "N @ addresses" line, an optional
// "# labels: {...}" line and one "#\taddr\tfunction+off\tfile:line" line per
// frame, innermost first, so the last frame is the goroutine's start (or,
// for one started by sync.WaitGroup.Go, the frame before it).
func lingering(profile []byte) map[string][]string {
	out := map[string][]string{}
	var count int
	var owner, start, called string
	flush := func() {
		if owner != "" && !connectionLoop(start) && !ended(start) {
			for range count {
				out[owner] = append(out[owner], start)
			}
		}
		count, owner, start, called = 0, "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(profile))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "# labels: "):
			var labels map[string]string
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "# labels: ")), &labels) == nil {
				owner = labels[labelKey]
			}
		case strings.HasPrefix(line, "#\t"):
			if f := strings.Fields(line); len(f) >= 3 {
				called, start = start, f[2]
				if strings.HasPrefix(start, "sync.(*WaitGroup).Go.") && called != "" {
					start = called
				}
			}
		default:
			if n, _, ok := strings.Cut(line, " @ "); ok {
				flush()
				count, _ = strconv.Atoi(n)
			}
		}
	}
	flush()
	return out
}

// ended reports whether a goroutine whose outermost frame is fn has
// returned from its function and is only being torn down by the runtime:
// it is done, though the profile still lists it, labels and all.
func ended(fn string) bool {
	return strings.HasPrefix(fn, "runtime.goexit0") || strings.HasPrefix(fn, "runtime.goexit1")
}

// connectionLoop reports whether a goroutine starting in fn serves a pooled
// client connection.
func connectionLoop(fn string) bool {
	for _, p := range []string{"net/http.(*persistConn).", "net/http.(*http2ClientConn).", "golang.org/x/net/http2.(*ClientConn).", "golang.org/x/net/http2.(*clientConnReadLoop)."} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// summary names the functions goroutines started in, most frequent first,
// with their counts.
func summary(starts []string) string {
	n := map[string]int{}
	for _, s := range starts {
		n[s]++
	}
	fns := make([]string, 0, len(n))
	for f := range n {
		fns = append(fns, f)
	}
	sort.Slice(fns, func(i, j int) bool { return n[fns[i]] > n[fns[j]] || n[fns[i]] == n[fns[j]] && fns[i] < fns[j] })
	out := make([]string, len(fns))
	for i, f := range fns {
		out[i] = fmt.Sprintf("%s ×%d", trimOffset(f), n[f])
	}
	return strings.Join(out, ", ")
}

// trimOffset drops the "+0x1c" a profile adds to a function's name.
func trimOffset(fn string) string {
	if i := strings.LastIndex(fn, "+0x"); i > 0 {
		return fn[:i]
	}
	return fn
}
