package component

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// leaky starts a goroutine of its own, and one through a helper, that
// outlive it until release is closed; tidy joins its goroutine.
func leaky(name string, release <-chan struct{}) Component {
	return Func{Label: name, Fn: func(ctx context.Context, ready func()) error {
		go func() { <-release }()
		spawn(release)
		ready()
		<-ctx.Done()
		return nil
	}}
}

func spawn(release <-chan struct{}) { go func() { <-release }() }

// shared starts a goroutine that outlives it through Shared only.
func shared(name string, release <-chan struct{}) Component {
	return Func{Label: name, Fn: func(ctx context.Context, ready func()) error {
		Shared(func() { spawn(release) })
		done := make(chan struct{})
		go func() { defer close(done); <-ctx.Done() }() // still labelled after Shared
		ready()
		<-done
		return nil
	}}
}

func tidy(name string) Component {
	return Func{Label: name, Fn: func(ctx context.Context, ready func()) error {
		done := make(chan struct{})
		go func() { defer close(done); <-ctx.Done() }()
		ready()
		<-done
		return nil
	}}
}

func TestStopReportsLingeringGoroutines(t *testing.T) {
	hook := test.NewGlobal()
	defer hook.Reset()
	release := make(chan struct{})
	defer close(release)

	m := NewManager()
	upstream := leaky("upstream", release).(Func)
	upstream.Outlives = true
	for _, c := range []Component{tidy("tidy"), leaky("leaky", release), upstream, shared("shared", release)} {
		if err := m.Start(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if got := Lingering(); len(got["leaky"]) != 3 || len(got["upstream"]) != 3 || len(got["tidy"]) != 2 || len(got["shared"]) != 2 {
		t.Errorf("while running: %v, want leaky 3, upstream 3, tidy 2, shared 2 (Run and what it started, not through Shared)", got)
	}
	m.Stop()
	var warned, informed []string
	for _, e := range hook.AllEntries() {
		switch e.Level {
		case logrus.WarnLevel:
			warned = append(warned, e.Message)
		case logrus.InfoLevel:
			informed = append(informed, e.Message)
		}
	}
	// each goroutine by where it started, the one started through a helper too
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "leaky left 2 goroutines running after its stop: ") || !strings.Contains(warned[0], "pkg/component.spawn.func1 ×1") {
		t.Errorf("warnings %q, want one for leaky's 2 goroutines", warned)
	}
	if len(informed) != 1 || !strings.HasSuffix(informed[0], ": upstream (2)") {
		t.Errorf("information %q, want one line naming upstream (2)", informed)
	}
}

// Lingering's reading of a profile: by component, by the function each
// goroutine started in (the one sync.WaitGroup.Go called, for those it
// started), pooled connections and unlabelled goroutines left out.
func TestLingeringProfile(t *testing.T) {
	profile := `goroutine profile: total 5
2 @ 0x1 0x2
# labels: {"component":"cluster-dns"}
#	0x1	runtime.gopark+0x1	/go/src/runtime/proc.go:1
#	0x2	github.com/edgeos/edgeos/pkg/dns.(*DNS).follow+0x1	/src/pkg/dns/component.go:1

1 @ 0x1 0x3
# labels: {"component":"cluster-dns"}
#	0x1	runtime.gopark+0x1	/go/src/runtime/proc.go:1
#	0x3	golang.org/x/net/http2.(*ClientConn).readLoop+0x1	/mod/x/net/http2/transport.go:1

1 @ 0x1 0x4
# labels: {"component":"local-storage"}
#	0x1	runtime.gopark+0x1	/go/src/runtime/proc.go:1
#	0x4	net/http.(*persistConn).writeLoop+0x1	/go/src/net/http/transport.go:1

1 @ 0x1 0x5
#	0x1	runtime.gopark+0x1	/go/src/runtime/proc.go:1
#	0x5	main.main+0x1	/src/main.go:1

1 @ 0x1 0x6 0x7
# labels: {"component":"local-storage"}
#	0x1	runtime.gopark+0x1	/go/src/runtime/proc.go:1
#	0x6	github.com/edgeos/edgeos/pkg/storage/localpath.(*Node).Run.func1+0x1	/src/pkg/storage/localpath/node.go:1
#	0x7	sync.(*WaitGroup).Go.func1+0x1	/go/src/sync/waitgroup.go:1

1 @ 0x1 0x8
# labels: {"component":""}
#	0x1	runtime.gopark+0x1	/go/src/runtime/proc.go:1
#	0x8	k8s.io/client-go/transport.(*dynamicClientCert).run+0x1	/mod/client-go/transport/cert_rotation.go:1

1 @ 0x9
# labels: {"component":"cluster-dns"}
#	0x9	runtime.goexit1+0x9a	/go/src/runtime/proc.go:1
`
	got := lingering([]byte(profile))
	if len(got) != 2 || summary(got["cluster-dns"]) != "github.com/edgeos/edgeos/pkg/dns.(*DNS).follow ×2" ||
		summary(got["local-storage"]) != "github.com/edgeos/edgeos/pkg/storage/localpath.(*Node).Run.func1 ×1" {
		t.Errorf("lingering %v, want cluster-dns's 2 and local-storage's 1", got)
	}
}

// A goroutine still running well after its component's Run returned is
// counted at the stop; one that is just ending is not.
func TestStopStragglers(t *testing.T) {
	hook := test.NewGlobal()
	defer hook.Reset()
	m := NewManager()
	done := make(chan struct{}, 2)
	straggler := func(name string, ending time.Duration) Component {
		return Func{Label: name, Fn: func(ctx context.Context, ready func()) error {
			go func() { <-ctx.Done(); time.Sleep(ending); done <- struct{}{} }()
			ready()
			<-ctx.Done()
			return nil
		}}
	}
	for _, c := range []Component{straggler("late", 2*settleFor), straggler("ending", settleFor/10)} {
		if err := m.Start(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	m.Stop()
	<-done
	<-done
	var warned []string
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warned = append(warned, e.Message)
		}
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "late left 1 goroutines") {
		t.Errorf("warnings %q, want one, about late's goroutine", warned)
	}
}
