package harness

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
)

// LogReceiver is an OpenTelemetry logs endpoint (OTLP/HTTP) in the test
// process, on the host's bridge address: it decodes what nodes ship with
// OpenTelemetry's own protobuf types and keeps every record. While down
// it answers 503, as a collector that is restarting does.
type LogReceiver struct {
	// URL is the endpoint, for --log-forward.
	URL string

	mu      sync.Mutex
	down    bool
	records []LogRecord
	refused int
}

// LogRecord is one line received.
type LogRecord struct {
	// Resource holds the resource attributes (k8s.pod.name …).
	Resource map[string]string
	// Stream is the log.iostream attribute.
	Stream string
	Body   string
}

// StartLogReceiver serves on the host's bridge address at port until the
// test ends.
func (c *Cluster) StartLogReceiver(port int) *LogReceiver {
	c.t.Helper()
	addr := net.JoinHostPort(c.HostIP(), fmt.Sprint(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		c.t.Fatal(err)
	}
	r := &LogReceiver{URL: "http://" + addr + "/v1/logs"}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	c.t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *LogReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	down := r.down
	if down {
		r.refused++
	}
	r.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if req.URL.Path != "/v1/logs" || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []LogRecord
	for _, rl := range msg.GetResourceLogs() {
		res := map[string]string{}
		for _, kv := range rl.GetResource().GetAttributes() {
			res[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				rec := LogRecord{Resource: res, Body: lr.GetBody().GetStringValue()}
				for _, kv := range lr.GetAttributes() {
					if kv.GetKey() == "log.iostream" {
						rec.Stream = kv.GetValue().GetStringValue()
					}
				}
				got = append(got, rec)
			}
		}
	}
	r.mu.Lock()
	r.records = append(r.records, got...)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
	_, _ = w.Write(out)
}

// SetDown has the receiver refuse (down) or take requests.
func (r *LogReceiver) SetDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// Refused is the count of requests refused while down.
func (r *LogReceiver) Refused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// Records returns the records received whose resource attributes hold
// every pair of match, in the order received.
func (r *LogReceiver) Records(match map[string]string) []LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LogRecord
next:
	for _, rec := range r.records {
		for k, v := range match {
			if rec.Resource[k] != v {
				continue next
			}
		}
		out = append(out, rec)
	}
	return out
}

// WaitRecords polls until done accepts the records matching match, or
// gives up after 5 minutes with an error.
func (r *LogReceiver) WaitRecords(match map[string]string, done func([]LogRecord) bool) ([]LogRecord, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		got := r.Records(match)
		if done(got) {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, errors.New("not received within 5 minutes")
		}
		time.Sleep(250 * time.Millisecond)
	}
}
