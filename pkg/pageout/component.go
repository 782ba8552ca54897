package pageout

import (
	"context"
	"errors"
	"os"
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
	// those of the programs named in Except, which page themselves out
	// (told by AfterEnv).
	BinDir string
	Except []string
}

// AfterEnv is the environment variable that tells a program edgeos runs
// to page itself out (Self) after the delay it holds, a Go duration (0:
// never). It is also the name of --pageout-after's variable, and means
// the same.
const AfterEnv = "EDGEOS_PAGEOUT_AFTER"

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

// pageOut pages out this process's program, then those of BinDir.
func (t *Trim) pageOut() {
	before := rss("self")
	if err := Self(); err != nil {
		t.warn("edgeos", err)
		return
	}
	after := rss("self")
	n := 0
	for _, pid := range t.programs() {
		err := Process(pid)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // it has exited since (a CNI plugin, say)
		}
		if err != nil {
			t.warn("process "+strconv.Itoa(pid), err)
			continue
		}
		n++
	}
	others := ""
	if t.cfg.BinDir != "" {
		others = ", and " + strconv.Itoa(n) + " processes of " + t.cfg.BinDir
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

// programs are the processes running a program file of BinDir, but not
// one named in Except.
func (t *Trim) programs() []int {
	if t.cfg.BinDir == "" {
		return nil
	}
	dir := filepath.Clean(t.cfg.BinDir) + "/"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.HasPrefix(exe, dir) && !slices.Contains(t.cfg.Except, filepath.Base(exe)) {
			pids = append(pids, pid)
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
