package harness

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// ProcCPUTicks is a process's CPU time, user and system, in clock ticks
// (ClockTicks a second); ok is false when the process is gone.
func ProcCPUTicks(pid string) (ticks int64, ok bool) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// fields after the command name, which is in parentheses
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, true
}

// ClockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
func ClockTicks(t testing.TB) float64 {
	t.Helper()
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatalf("getconf CLK_TCK: %v", err)
	}
	hz, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || hz <= 0 {
		t.Fatalf("CLK_TCK %q", out)
	}
	return hz
}

// ProcFields reads the "Name: 123 [unit]" lines of a /proc file
// (status, smaps_rollup, io); with a unit, only lines that carry it.
func ProcFields(t testing.TB, path, unit string) map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if unit != "" && (len(f) != 2 || f[1] != unit) || unit == "" && len(f) != 1 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			out[k] = n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
