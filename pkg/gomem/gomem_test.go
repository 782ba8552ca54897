package gomem

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestFor(t *testing.T) {
	if b := For(1 << 30); b.Limit != (1<<30)*2/5 || b.GCPercent != GCPercent {
		t.Errorf("1 GiB: %+v", b)
	}
	if b := For(256 << 20); b.Limit != Floor {
		t.Errorf("256 MiB: limit %d, want the floor", b.Limit)
	}
}

func TestApplyLeavesTheEnvironmentsChoice(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	env := map[string]string{"GOGC": "80"}
	set := Apply(Budget{GCPercent: 50, Limit: 300 << 20}, func(k string) string { return env[k] })
	if set.GCPercent != 0 || set.Limit != 300<<20 {
		t.Errorf("set %+v", set)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC from the environment was overridden: %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("memory limit %d", got)
	}

	env = map[string]string{"GOMEMLIMIT": "1GiB"}
	set = Apply(Budget{GCPercent: 50, Limit: 300 << 20}, func(k string) string { return env[k] })
	if set.GCPercent != 50 || set.Limit != 0 {
		t.Errorf("set %+v", set)
	}
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("GC percent %d", got)
	}
}

func TestMemTotal(t *testing.T) {
	got, err := memTotal([]byte("MemTotal:        1000 kB\nMemFree: 5 kB\n"))
	if err != nil || got != 1000<<10 {
		t.Errorf("%d %v", got, err)
	}
	if _, err := memTotal([]byte("MemFree: 5 kB\n")); err == nil {
		t.Error("no MemTotal accepted")
	}
}

func TestCgroupLimit(t *testing.T) {
	files := map[string]string{
		"/sys/fs/cgroup/memory/system.slice/edgeos.service/memory.limit_in_bytes": "536870912\n",
		"/sys/fs/cgroup/memory/unlimited/memory.limit_in_bytes":                   "9223372036854771712\n",
		"/sys/fs/cgroup/edgeos.slice/memory.max":                                  "268435456\n",
		"/sys/fs/cgroup/free.slice/memory.max":                                    "max\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	for in, want := range map[string]int64{
		"5:cpu:/x\n4:memory:/system.slice/edgeos.service\n": 536870912,
		"4:memory:/unlimited\n":                             0,
		"0::/edgeos.slice\n":                                268435456,
		"0::/free.slice\n":                                  0,
		"":                                                  0,
	} {
		got, ok := cgroupLimit([]byte(in), read)
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", in, got, ok, want)
		}
	}
	// the machine's own figures are readable
	if n, err := Available(); err != nil || n <= 0 {
		t.Errorf("Available: %d %v", n, err)
	}
}
