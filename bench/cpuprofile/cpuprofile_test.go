package cpuprofile

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func TestOwner(t *testing.T) {
	for _, c := range []struct {
		frames []string // root first
		want   string
	}{
		// a kubelet loop started through wait.Until, reading cgroup files
		{[]string{"runtime.goexit", "k8s.io/apimachinery/pkg/util/wait.Until", "k8s.io/apimachinery/pkg/util/wait.BackoffUntil.func1",
			"k8s.io/kubernetes/pkg/kubelet/eviction.(*managerImpl).Start.func2", "github.com/opencontainers/cgroups/fs.(*Manager).GetStats",
			"os.ReadFile", "syscall.Syscall"}, "k8s.io/kubernetes/pkg/kubelet/eviction"},
		// an HTTP handler: net/http's goroutine, then the apiserver's filters
		{[]string{"runtime.goexit", "net/http.(*conn).serve", "k8s.io/apiserver/pkg/server/filters.WithTimeout.func1", "encoding/json.Marshal"},
			"k8s.io/apiserver/pkg/server/filters"},
		{[]string{"github.com/k3s-io/kine/pkg/logstructured/sqllog.(*SQLLog).poll.func1", "database/sql.(*DB).QueryContext"}, "github.com/k3s-io/kine/pkg/logstructured/sqllog"},
		{[]string{"runtime.mcall", "runtime.park_m", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll"}, Scheduler},
		{[]string{"runtime.gcBgMarkWorker", "runtime.systemstack", "runtime.gcDrain"}, GC},
		{[]string{"runtime.mcall", "runtime.park_m", "runtime.resetspinning", "runtime.wakep"}, Scheduler},
		// only a launcher: the poll loop's own timer
		{[]string{"runtime.goexit", "k8s.io/apimachinery/pkg/util/wait.PollUntilContextCancel", "k8s.io/apimachinery/pkg/util/wait.loopConditionUntilContext", "time.NewTimer"},
			"k8s.io/apimachinery/pkg/util/wait"},
		// the scheduler's filters, run in pieces by the workqueue package;
		// a work queue's own loop
		{[]string{"runtime.goexit", "k8s.io/client-go/util/workqueue.ParallelizeUntil.func1",
			"k8s.io/kubernetes/pkg/scheduler.(*Scheduler).findNodesThatPassFilters.func2", "runtime.mallocgc"}, "k8s.io/kubernetes/pkg/scheduler"},
		{[]string{"runtime.goexit", "k8s.io/client-go/util/workqueue.(*Typed[go.shape.string]).updateUnfinishedWorkLoop", "time.Sleep"}, "k8s.io/client-go/util/workqueue"},
		{[]string{"runtime.goexit", "os/signal.loop", "os/signal.signal_recv"}, "Go runtime and standard library: os/signal.loop"},
		{nil, "unknown (no stack)"},
	} {
		if got := Owner(c.frames); got != c.want {
			t.Errorf("Owner(%q) = %q, want %q", c.frames, got, c.want)
		}
	}
}

func TestPackage(t *testing.T) {
	for f, want := range map[string]string{
		"k8s.io/client-go/util/workqueue.(*Typed[go.shape.string]).updateUnfinishedWorkLoop": "k8s.io/client-go/util/workqueue",
		"github.com/google/cadvisor/lib/manager.(*containerData).housekeeping":               "github.com/google/cadvisor/lib/manager",
		// the linker escapes dots in a path's last element
		"gopkg.in/yaml%2ev3.unmarshal": "gopkg.in/yaml%2ev3",
		"runtime.gcBgMarkWorker.func2": "runtime",
		"main.main":                    "main",
		"internal/poll.(*FD).Read":     "internal/poll",
	} {
		if got := Package(f); got != want {
			t.Errorf("Package(%q) = %q, want %q", f, got, want)
		}
	}
}

// TestSummarize writes a CPU profile the way the Go runtime does (pprof's
// gzipped protobuf) and reads it back.
func TestSummarize(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	goexit, until, relist, readdir := fn(1, "runtime.goexit"), fn(2, "k8s.io/apimachinery/pkg/util/wait.Until"),
		fn(3, "k8s.io/kubernetes/pkg/kubelet/pleg.(*GenericPLEG).Relist"), fn(4, "os.ReadDir")
	mark := fn(5, "runtime.gcBgMarkWorker")
	// one location with two lines: os.ReadDir inlined into the relist
	inlined := &profile.Location{ID: 1, Line: []profile.Line{{Function: readdir}, {Function: relist}}}
	loc := func(id uint64, f *profile.Function) *profile.Location {
		return &profile.Location{ID: id, Line: []profile.Line{{Function: f}}}
	}
	root, wait, gc := loc(2, goexit), loc(3, until), loc(4, mark)
	ms := int64(time.Millisecond)
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		DurationNanos: int64(10 * time.Second),
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10 * ms,
		Sample: []*profile.Sample{
			{Location: []*profile.Location{inlined, wait, root}, Value: []int64{3, 30 * ms}},
			{Location: []*profile.Location{gc}, Value: []int64{1, 10 * ms}},
		},
		Location: []*profile.Location{inlined, root, wait, gc},
		Function: []*profile.Function{goexit, until, relist, readdir, mark},
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := Summarize(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []Share{{"k8s.io/kubernetes/pkg/kubelet/pleg", 30 * time.Millisecond}, {GC, 10 * time.Millisecond}}
	if s.CPU != 40*time.Millisecond || s.Duration != 10*time.Second || len(s.Shares) != 2 || s.Shares[0] != want[0] || s.Shares[1] != want[1] {
		t.Fatalf("summary %+v, want 40ms over 10s: %v", s, want)
	}
	got := s.String(1)
	if wantStr := "0.40% of a core over 10s: k8s.io/kubernetes/pkg/kubelet/pleg 75.0%, " + GC + " 25.0%"; got != wantStr {
		t.Errorf("String(1) = %q, want %q", got, wantStr)
	}
	if got := s.String(0); !strings.HasSuffix(got, ": 2 others 100.0%") {
		t.Errorf("String(0) = %q", got)
	}

	if _, err := Summarize([]byte("not a profile")); err == nil {
		t.Error("Summarize accepted bytes that are no profile")
	}
	p.SampleType = p.SampleType[:1]
	for _, s := range p.Sample {
		s.Value = s.Value[:1]
	}
	buf.Reset()
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := Summarize(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "not a CPU profile") {
		t.Errorf("a profile without cpu samples: %v", err)
	}
}
