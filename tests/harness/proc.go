package harness

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

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
