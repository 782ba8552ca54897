package logforward

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/component/componenttest"
	"github.com/edgeos/edgeos/pkg/logforward/endpoint"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP logs endpoint that decodes with
// OpenTelemetry's own types; it answers 503 while down.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	down bool
	// lines by pod (own: "edgeos"), in the order received
	lines map[string][]string
	// resource attributes seen, by pod
	attrs map[string]map[string]string
	auth  string
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{t: t, lines: map[string][]string{}, attrs: map[string]map[string]string{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if req.Header.Get("Content-Encoding") != "gzip" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want gzipped protobuf", http.StatusUnsupportedMediaType)
		return
	}
	r.auth = req.Header.Get("Authorization")
	zr, err := gzip.NewReader(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		r.t.Errorf("the receiver could not decode a request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rl := range msg.ResourceLogs {
		attrs := map[string]string{}
		for _, kv := range rl.Resource.Attributes {
			attrs[kv.Key] = kv.Value.GetStringValue()
		}
		pod := attrs["k8s.pod.name"]
		if attrs["service.name"] == "edgeos" {
			pod = "edgeos"
		}
		r.attrs[pod] = attrs
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				r.lines[pod] = append(r.lines[pod], lr.Body.GetStringValue())
			}
		}
	}
}

func (r *receiver) setDown(d bool) {
	r.mu.Lock()
	r.down = d
	r.mu.Unlock()
}

func (r *receiver) got(pod string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines[pod]...)
}

// waitFor polls until the receiver holds n lines of pod.
func (r *receiver) waitFor(pod string, n int) []string {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.got(pod)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runForwarder runs a forwarder until the returned stop is called (or the
// test ends).
func runForwarder(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	return componenttest.Run(t, New(cfg))
}

// Every line of a pod arrives, labelled, in order: also when the endpoint
// is down for a while and the forwarder is restarted meanwhile. edgeos's
// own lines go along.
func TestForwardThroughOutageAndRestart(t *testing.T) {
	rcv, srv := newReceiver(t)
	target, err := endpoint.Parse(strings.Replace(srv.URL, "http://", "http://shipper:s3cret@", 1) + endpoint.OTLPPath)
	if err != nil {
		t.Fatal(err)
	}
	root, dir := t.TempDir(), t.TempDir()
	l := newPodLog(t, root, "shop", "web-1", "nginx")
	own := NewOwn()
	reg := prometheus.NewRegistry()
	cfg := Config{Target: target, NodeName: "n1", Dir: dir, PodLogs: root, BufferBytes: 1 << 20, Own: own, Metrics: reg, Interval: 10 * time.Millisecond}

	stop := runForwarder(t, cfg)
	l.lines(0, 100)
	own.Write([]byte("edgeos says hello\n"))
	checkRun(t, lineNumbers(t, asEntries(rcv.waitFor("web-1", 100))), 0, 100)
	if got := rcv.waitFor("edgeos", 1); len(got) != 1 || got[0] != "edgeos says hello" {
		t.Errorf("own lines: %q", got)
	}
	want := map[string]string{"k8s.namespace.name": "shop", "k8s.pod.name": "web-1", "k8s.pod.uid": "uid-1", "k8s.container.name": "nginx", "k8s.node.name": "n1"}
	rcv.mu.Lock()
	if fmt.Sprint(rcv.attrs["web-1"]) != fmt.Sprint(want) {
		t.Errorf("resource attributes %v, want %v", rcv.attrs["web-1"], want)
	}
	if rcv.auth != "Basic c2hpcHBlcjpzM2NyZXQ=" {
		t.Errorf("Authorization %q", rcv.auth)
	}
	rcv.mu.Unlock()

	rcv.setDown(true)
	l.lines(100, 200)
	time.Sleep(100 * time.Millisecond) // some read before the stop, some after
	stop()
	l.lines(200, 250)
	stop = runForwarder(t, cfg)
	l.lines(250, 300)
	rcv.setDown(false)
	checkRun(t, lineNumbers(t, asEntries(rcv.waitFor("web-1", 300))), 0, 300)
	stop()
	if n := testutil.ToFloat64(New(Config{Metrics: reg}).sent); n < 300 {
		t.Errorf("sent_lines_total %v", n)
	}
}

// With a tiny buffer and the endpoint down, the oldest lines are dropped
// and counted; the newest arrive, in order.
func TestForwardDropsOldest(t *testing.T) {
	rcv, srv := newReceiver(t)
	target, _ := endpoint.Parse(srv.URL + endpoint.OTLPPath)
	root := t.TempDir()
	l := newPodLog(t, root, "ns", "p", "c")
	reg := prometheus.NewRegistry()
	rcv.setDown(true)
	stop := runForwarder(t, Config{Target: target, NodeName: "n1", Dir: t.TempDir(), PodLogs: root, BufferBytes: 16 << 10, Metrics: reg, Interval: 10 * time.Millisecond})
	for i := 0; i < 2000; i += 100 {
		l.lines(i, i+100)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	rcv.setDown(false)
	// the last line arrives: then all that was kept has
	deadline := time.Now().Add(30 * time.Second)
	var got []int
	for time.Now().Before(deadline) {
		got = lineNumbers(t, asEntries(rcv.got("p")))
		if len(got) > 0 && got[len(got)-1] == 1999 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if len(got) == 0 || got[0] == 0 {
		t.Fatalf("received %d lines from %v: nothing was dropped", len(got), got[:min(1, len(got))])
	}
	checkRun(t, got, 2000-len(got), 2000)
	dropped := testutil.ToFloat64(New(Config{Metrics: reg}).dropped.WithLabelValues("buffer_full"))
	if int(dropped) != 2000-len(got) {
		t.Errorf("%v counted as dropped, %d missing", dropped, 2000-len(got))
	}
}

// A refused batch is dropped and counted, not sent forever.
func TestForwardRejected(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "entry too far behind", http.StatusBadRequest)
	}))
	defer srv.Close()
	target, _ := endpoint.Parse(srv.URL + endpoint.LokiPath)
	root := t.TempDir()
	l := newPodLog(t, root, "ns", "p", "c")
	reg := prometheus.NewRegistry()
	stop := runForwarder(t, Config{Target: target, NodeName: "n1", Dir: t.TempDir(), PodLogs: root, BufferBytes: 1 << 20, Metrics: reg, Interval: 10 * time.Millisecond})
	var ten strings.Builder // one write: one batch
	for i := range 10 {
		fmt.Fprintf(&ten, "2026-11-30T10:00:00Z stdout F line %d\n", i)
	}
	l.write(ten.String())
	rejected := New(Config{Metrics: reg}).dropped.WithLabelValues("rejected")
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(rejected) < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// longer than the first retry would wait
	time.Sleep(retryFirst + 500*time.Millisecond)
	stop()
	if n := testutil.ToFloat64(rejected); n != 10 {
		t.Errorf("%v lines counted as rejected, want 10", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("a refused batch was sent %d times", calls)
	}
}

func asEntries(lines []string) []Entry {
	out := make([]Entry, len(lines))
	for i, l := range lines {
		out[i].Line = l
	}
	return out
}

// Loki's JSON push body: one stream per container and stream, the
// lines in order, edgeos's own under job="edgeos".
func TestEncodeLoki(t *testing.T) {
	es := numbered(0, 3)
	es[1].Stream = "stderr"
	es = append(es, Entry{Time: 9, Line: "own"})
	var req struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(encode(endpoint.Loki, "n1", es), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Streams) != 3 {
		t.Fatalf("%d streams: %+v", len(req.Streams), req)
	}
	s := req.Streams[0]
	if fmt.Sprint(s.Stream) != "map[container:c namespace:ns node:n1 pod:p stream:stdout]" || len(s.Values) != 2 ||
		s.Values[0][0] != "0" || s.Values[1][1] != es[2].Line {
		t.Errorf("first stream %+v", s)
	}
	if o := req.Streams[2]; fmt.Sprint(o.Stream) != "map[job:edgeos node:n1]" || o.Values[0] != [2]string{"9", "own"} {
		t.Errorf("own stream %+v", o)
	}
}

// A line that is not UTF-8 does not make the protobuf request invalid.
func TestEncodeOTLPInvalidUTF8(t *testing.T) {
	var msg collogs.ExportLogsServiceRequest
	es := []Entry{{Time: 1, Source: Source{Namespace: "n", Pod: "p", UID: "u", Container: "c"}, Stream: "stdout", Line: "bin\xff\xfeary"}}
	if err := proto.Unmarshal(encode(endpoint.OTLP, "n1", es), &msg); err != nil {
		t.Fatal(err)
	}
	lr := msg.ResourceLogs[0].ScopeLogs[0].LogRecords[0]
	if lr.Body.GetStringValue() != "bin\uFFFDary" || lr.TimeUnixNano != 1 || lr.Attributes[0].Key != "log.iostream" {
		t.Errorf("got %v", lr)
	}
	if name := msg.ResourceLogs[0].ScopeLogs[0].Scope.Name; name != "edgeos" {
		t.Errorf("scope %q", name)
	}
}

func TestOwnBounded(t *testing.T) {
	o := NewOwn()
	for range ownMax + 5 {
		o.Write([]byte("x\n"))
	}
	o.Write([]byte("\n"))
	lines, dropped := o.take()
	if len(lines) != ownMax || dropped != 5 || lines[0].Line != "x" {
		t.Errorf("%d held, %d dropped", len(lines), dropped)
	}
	if lines, dropped := o.take(); len(lines) != 0 || dropped != 0 {
		t.Error("take twice")
	}
	var none *Own
	if l, d := none.take(); l != nil || d != 0 {
		t.Error("nil Own")
	}
}

// A server without a node ships its own lines only; no pod log directory
// is looked at (not even the working directory's).
func TestForwardOwnOnly(t *testing.T) {
	rcv, srv := newReceiver(t)
	target, _ := endpoint.Parse(srv.URL + endpoint.OTLPPath)
	t.Chdir(t.TempDir())
	newPodLog(t, ".", "ns", "p", "c").lines(0, 5)
	own := NewOwn()
	stop := runForwarder(t, Config{Target: target, NodeName: "s1", Dir: t.TempDir(), Own: own, BufferBytes: 1 << 20, Interval: 10 * time.Millisecond})
	own.Write([]byte("control plane only\n"))
	got := rcv.waitFor("edgeos", 1)
	stop()
	if len(got) != 1 || len(rcv.got("p")) != 0 {
		t.Errorf("own %q, pod lines %q", got, rcv.got("p"))
	}
}
