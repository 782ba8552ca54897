package pageout

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Config says when, and which programs besides edgeos itself.
type Config struct {
	// After is the wait between start-up (every component before this one
	// ready) and the page-out: the controllers' first sync and a node's
	// first pods are start-up too.
	After time.Duration
	// BinDir holds the programs edgeos runs (containerd, its shims):
	// running processes of a program in it are paged out too, except
	// those of the programs named in SelfPaging, which are sent Signal
	// instead and page themselves out (see OnSignal), and those named in
	// OwnClock, which page themselves out a while after their own start
	// (ShimAfterEnv) and are left alone.
	BinDir     string
	SelfPaging []string
	OwnClock   []string
}

// ShimAfterEnv, in the environment of a runc shim built from cmd/shim, is
// the wait (a Go duration) between the shim's start and its page-out;
// unset or 0: never. edgeos sets it in containerd's environment, which
// the shims inherit.
const ShimAfterEnv = "EDGEOS_SHIM_PAGEOUT_AFTER"

// Signal asks a program that pages itself out (OnSignal) to do it now: its
// page-out then comes at the same moment as edgeos's own, After after
// edgeos's start-up, not after the program's own start.
const Signal = unix.SIGUSR2

// DefaultAfter is a minute: start → Ready takes seconds, the first
// controller syncs and the node's first pods a little more.
const DefaultAfter = time.Minute

// Trim pages out this process's program, and the running programs of
// BinDir, once, cfg.After after it starts; then it idles until stopped.
type Trim struct{ cfg Config }

// New prepares a Trim; it is a component (Name, Run).
func New(cfg Config) *Trim { return &Trim{cfg: cfg} }

func (t *Trim) Name() string { return "pageout" }

// Run is ready at once; the page-out is a side matter, whose failure is
// logged: the pages then stay resident, as without it.
func (t *Trim) Run(ctx context.Context, ready func()) error {
	ready()
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(t.cfg.After):
	}
	t.pageOut()
	<-ctx.Done()
	return nil
}

// pageOut pages out this process's program, then those of BinDir, and
// signals the programs that page themselves out.
func (t *Trim) pageOut() {
	before := rss("self")
	if err := Self(); err != nil {
		t.warn("edgeos", err)
		return
	}
	after := rss("self")
	n := 0
	var signalled []string
	for _, p := range t.programs() {
		if slices.Contains(t.cfg.OwnClock, p.name) {
			continue
		}
		var err error
		if slices.Contains(t.cfg.SelfPaging, p.name) {
			if err = unix.Kill(p.pid, Signal); err == nil {
				signalled = append(signalled, p.name)
			}
		} else if err = Process(p.pid); err == nil {
			n++
		}
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // it has exited since (a CNI plugin, say)
		}
		if err != nil {
			t.warn("process "+strconv.Itoa(p.pid), err)
		}
	}
	others := ""
	if t.cfg.BinDir != "" {
		others = ", and " + strconv.Itoa(n) + " processes of " + t.cfg.BinDir
	}
	if len(signalled) > 0 {
		others += "; asked " + strings.Join(signalled, ", ") + " to do the same"
	}
	logrus.Infof("Paged out start-up pages: edgeos resident %d → %d MiB%s (what is still used comes back)", before>>20, after>>20, others)
}

func (t *Trim) warn(what string, err error) {
	if errors.Is(err, ErrUnsupported) {
		logrus.Infof("Start-up pages of %s stay resident: %v", what, err)
		return
	}
	logrus.Warnf("Paging out start-up pages of %s: %v", what, err)
}

// program is a running process of a program file of BinDir.
type program struct {
	pid  int
	name string
}

// programs are the processes running a program file of BinDir.
func (t *Trim) programs() []program {
	if t.cfg.BinDir == "" {
		return nil
	}
	dir := filepath.Clean(t.cfg.BinDir) + "/"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []program
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.HasPrefix(exe, dir) {
			pids = append(pids, program{pid: pid, name: filepath.Base(exe)})
		}
	}
	return pids
}

// rss is a process's resident memory in bytes, 0 if unknown.
func rss(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Rss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// OnSignal makes this process page itself out (Self) whenever it is sent
// Signal, and hands each result to report: for a program edgeos runs that
// pages itself out when edgeos does (containerd). Only a process's own
// mappings can be marked MADV_RANDOM, which keeps the pages read back to
// those used.
func OnSignal(report func(error)) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, Signal)
	go func() {
		for range c {
			report(Self())
		}
	}()
}
