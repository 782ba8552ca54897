package footprint

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// dirtied counts the page-cache pages that a set of threads dirties, by
// file: the kernel's writeback:writeback_dirty_folio tracepoint, which
// fires where /proc/PID/io's write_bytes is counted. It traces in a
// tracefs instance of its own, on a mount of its own, both gone at stop.
type dirtied struct {
	mnt, inst string
}

// traceDirtied starts tracing; nil where tracefs cannot be mounted or the
// tracepoint is missing (the table then has no by-file line).
func traceDirtied(b *testing.B) *dirtied {
	b.Helper()
	d := &dirtied{mnt: b.TempDir()}
	if err := unix.Mount("nodev", d.mnt, "tracefs", 0, ""); err != nil {
		b.Logf("writes by file left out: mounting tracefs: %v", err)
		return nil
	}
	// before the temporary directory goes, also when the bench fails
	b.Cleanup(d.close)
	d.inst = filepath.Join(d.mnt, "instances", "edgeos-footprint-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(d.inst, 0o700); err != nil {
		b.Logf("writes by file left out: tracefs instance: %v", err)
		return nil
	}
	if err := os.WriteFile(d.enable(), []byte("1"), 0); err != nil {
		b.Logf("writes by file left out: %v", err)
		return nil
	}
	return d
}

func (d *dirtied) enable() string {
	return filepath.Join(d.inst, "events", "writeback", "writeback_dirty_folio", "enable")
}

// close disables the tracepoint and removes the instance and the mount;
// it may run more than once.
func (d *dirtied) close() {
	if d.inst != "" {
		_ = os.WriteFile(d.enable(), []byte("0"), 0)
		_ = os.Remove(d.inst)
	}
	_ = unix.Unmount(d.mnt, 0)
}

// event is one line of the trace: "comm-TID [cpu] flags time:
// writeback_dirty_folio: bdi MAJ:MIN: ino=N index=N".
var event = regexp.MustCompile(`-(\d+)\s+\[\d+\].*writeback_dirty_folio: bdi \S+ ino=(\d+) `)

// stop ends the trace and returns the bytes (4 KiB a page) dirtied by the
// threads of pids, by file under root (a path relative to it), the rest
// (file-system metadata, files elsewhere) as "elsewhere".
func (d *dirtied) stop(b *testing.B, pids []string, root string) map[string]int64 {
	b.Helper()
	defer d.close()
	if err := os.WriteFile(d.enable(), []byte("0"), 0); err != nil {
		b.Fatal(err)
	}
	// what a full ring buffer dropped would go uncounted
	cpus, _ := filepath.Glob(filepath.Join(d.inst, "per_cpu", "cpu*", "stats"))
	for _, f := range cpus {
		if stats, err := os.ReadFile(f); err == nil && !strings.Contains(string(stats), "overrun: 0\n") {
			b.Logf("the trace buffer overran (%s); writes by file are short:\n%s", f, stats)
		}
	}
	trace, err := os.ReadFile(filepath.Join(d.inst, "trace"))
	if err != nil {
		b.Fatal(err)
	}
	threads := map[string]bool{}
	for _, pid := range pids {
		tasks, _ := os.ReadDir("/proc/" + pid + "/task")
		for _, t := range tasks {
			threads[t.Name()] = true
		}
	}
	files := map[uint64]string{}
	_ = filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				rel, _ := filepath.Rel(root, path)
				files[info.Sys().(*syscall.Stat_t).Ino] = rel
			}
		}
		return nil
	})
	out := map[string]int64{}
	for _, line := range strings.Split(string(trace), "\n") {
		m := event.FindStringSubmatch(line)
		if m == nil || !threads[m[1]] {
			continue
		}
		ino, _ := strconv.ParseUint(m[2], 10, 64)
		name, ok := files[ino]
		if !ok {
			name = "elsewhere"
		}
		out[name] += 4096
	}
	return out
}
