// Package gomem sizes the Go runtime's memory for the machine edgeos runs
// on: the GC target (GOGC) and a soft memory limit (GOMEMLIMIT) derived
// from the memory the machine, or the cgroup edgeos runs in, allows. What
// the environment sets wins.
package gomem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// GCPercent is edgeos's GC target: the heap may grow to 1.5 times the live
// heap between collections instead of Go's default 2 times. Measured on a
// server with 5 idle pods in bench/RESULTS.md; the price is more frequent
// collections under load, small at the edge's request rates.
const GCPercent = 50

// Floor is the smallest soft limit edgeos sets: a server's live heap is
// about 100 MB, and a limit under it would have the GC run without pause.
const Floor = 192 << 20

// Budget is what Apply sets; zero fields are left alone.
type Budget struct {
	GCPercent int
	Limit     int64 // bytes
}

// For derives the budget from the memory available, in bytes: the soft
// limit is 40% of it (never below Floor). On a 1 GB board that is about
// 400 MB: the GC works harder as edgeos nears it, before the kernel's OOM
// killer would, instead of letting garbage take memory pods need. On
// larger machines it never binds and GCPercent alone governs.
func For(available int64) Budget {
	return Budget{GCPercent: GCPercent, Limit: max(available*2/5, Floor)}
}

// Apply sets b in the runtime, except what GOGC or GOMEMLIMIT in env
// already set, and returns what it set.
func Apply(b Budget, getenv func(string) string) Budget {
	var set Budget
	if getenv("GOGC") == "" && b.GCPercent != 0 {
		debug.SetGCPercent(b.GCPercent)
		set.GCPercent = b.GCPercent
	}
	if getenv("GOMEMLIMIT") == "" && b.Limit != 0 {
		debug.SetMemoryLimit(b.Limit)
		set.Limit = b.Limit
	}
	return set
}

// Available is the memory this process may use, in bytes: the machine's
// MemTotal, or its cgroup's limit when that is lower (cgroup v2 memory.max
// or v1 memory.limit_in_bytes).
func Available() (int64, error) {
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	total, err := memTotal(meminfo)
	if err != nil {
		return 0, err
	}
	cgroup, _ := os.ReadFile("/proc/self/cgroup")
	if limit, ok := cgroupLimit(cgroup, os.ReadFile); ok && limit < total {
		return limit, nil
	}
	return total, nil
}

func memTotal(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// cgroupLimit reads the memory limit of the cgroup that /proc/self/cgroup
// names, through read (os.ReadFile; a parameter for tests).
func cgroupLimit(selfCgroup []byte, read func(string) ([]byte, error)) (int64, bool) {
	for _, line := range strings.Split(string(selfCgroup), "\n") {
		// hierarchy-ID:controllers:path
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var file string
		switch {
		case f[0] == "0" && f[1] == "":
			file = "/sys/fs/cgroup" + f[2] + "/memory.max"
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			file = "/sys/fs/cgroup/memory" + f[2] + "/memory.limit_in_bytes"
		default:
			continue
		}
		b, err := read(file)
		if err != nil {
			continue
		}
		// "max" (v2) or a huge number (v1) mean no limit
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n < 1<<60 {
			return n, true
		}
	}
	return 0, false
}
