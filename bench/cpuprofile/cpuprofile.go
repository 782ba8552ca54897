// Package cpuprofile sums a Go CPU profile (pprof's format, what
// /debug/pprof/profile serves) by who runs the code: each sample goes to its
// owner, the first package outside Go's standard library on the
// goroutine's stack counted from where the goroutine started, so that a
// kubelet loop reading cgroup files counts as the kubelet's and not as the
// file-reading library's. Samples with no such package are the Go
// runtime's own work: its scheduler, its garbage collector, or else the
// function their goroutine starts in.
package cpuprofile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Runtime owners, for samples with no package outside the standard library.
// A goroutine switching to the scheduler (runtime.mcall) counts as the
// scheduler's.
const (
	Scheduler = "Go runtime: scheduler (finding work, timers, network poll)"
	GC        = "Go runtime: garbage collection"
)

// launchers start goroutines for other packages' work (periodic, or in
// parallel pieces: workqueue.ParallelizeUntil, which the scheduler filters
// and scores nodes with); the owner is the package that asked for it.
var launchers = []string{
	"k8s.io/apimachinery/pkg/util/wait",
	"k8s.io/apimachinery/pkg/util/runtime",
	"k8s.io/client-go/util/workqueue",
}

// Share is one owner's CPU time in the profile.
type Share struct {
	Owner string
	CPU   time.Duration
}

// Summary is a profile summed by owner.
type Summary struct {
	Duration time.Duration // how long the profile ran
	CPU      time.Duration // all samples
	Shares   []Share       // largest first
}

// Summarize reads a CPU profile and sums it by owner.
func Summarize(data []byte) (Summary, error) {
	p, err := profile.ParseData(data)
	if err != nil {
		return Summary{}, fmt.Errorf("reading the CPU profile: %w", err)
	}
	i := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" && t.Unit == "nanoseconds" })
	if i < 0 {
		return Summary{}, fmt.Errorf("not a CPU profile: no cpu/nanoseconds sample type")
	}
	by := map[string]time.Duration{}
	var total time.Duration
	for _, s := range p.Sample {
		// leaf first: a sample's first location is where it was taken,
		// and a location's first line the innermost of the functions
		// inlined there
		var frames []string
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil {
					frames = append(frames, line.Function.Name)
				}
			}
		}
		slices.Reverse(frames)
		d := time.Duration(s.Value[i])
		by[Owner(frames)] += d
		total += d
	}
	sum := Summary{Duration: time.Duration(p.DurationNanos), CPU: total}
	for owner, d := range by {
		sum.Shares = append(sum.Shares, Share{owner, d})
	}
	slices.SortFunc(sum.Shares, func(a, b Share) int {
		return cmp.Or(cmp.Compare(b.CPU, a.CPU), strings.Compare(a.Owner, b.Owner))
	})
	return sum, nil
}

// Owner names who runs a stack, given root first: the first package
// outside the standard library that is not a launcher; else the first
// launcher; else the runtime's scheduler or garbage collector, whichever
// the stack is in.
func Owner(frames []string) string {
	for _, f := range frames {
		pkg := Package(f)
		if !standard(pkg) && !slices.Contains(launchers, pkg) {
			return pkg
		}
	}
	for _, f := range frames {
		switch pkg := Package(f); {
		case !standard(pkg):
			return pkg // a launcher's own work: its timers, say
		case f == "runtime.mcall", f == "runtime.park_m", f == "runtime.schedule", f == "runtime.findRunnable", f == "runtime.sysmon":
			return Scheduler
		case f == "runtime.gcBgMarkWorker", f == "runtime.bgsweep", f == "runtime.bgscavenge":
			return GC
		}
	}
	if len(frames) == 0 {
		return "unknown (no stack)"
	}
	// a goroutine's stack starts in runtime.goexit, then its function
	if frames[0] == "runtime.goexit" && len(frames) > 1 {
		frames = frames[1:]
	}
	return "Go runtime and standard library: " + frames[0]
}

// Package is the import path of a function's package, from its full name
// (path/pkg.Func, path/pkg.(*Type).Method, path/pkg.Func.func1).
func Package(function string) string {
	slash := strings.LastIndexByte(function, '/')
	if dot := strings.IndexByte(function[slash+1:], '.'); dot >= 0 {
		return function[:slash+1+dot]
	}
	return function
}

// standard reports whether pkg is in Go's standard library (its first path
// element has no dot), the runtime included.
func standard(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}

// String gives the top owners by share of the samples, the rest summed:
// "2.41% of a core over 60s: A 30.1%, B 10.2%, …, 14 others 9.9%".
func (s Summary) String(top int) string {
	if s.CPU == 0 || s.Duration == 0 {
		return "no samples"
	}
	pct := func(d time.Duration) float64 { return float64(d) / float64(s.CPU) * 100 }
	parts := []string{}
	for i, sh := range s.Shares {
		if i == top && len(s.Shares) > top+1 {
			var rest time.Duration
			for _, r := range s.Shares[top:] {
				rest += r.CPU
			}
			parts = append(parts, fmt.Sprintf("%d others %.1f%%", len(s.Shares)-top, pct(rest)))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.1f%%", sh.Owner, pct(sh.CPU)))
	}
	return fmt.Sprintf("%.2f%% of a core over %s: %s", float64(s.CPU)/float64(s.Duration)*100, s.Duration.Round(time.Second), strings.Join(parts, ", "))
}
