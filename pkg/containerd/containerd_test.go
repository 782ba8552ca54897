package containerd

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pageout"
)

// TestEnv runs a program with containerd's environment: BinDir comes first
// in PATH, the GC target and the shims' page-out are set, heap profiles
// are off unless the user's GODEBUG says otherwise.
func TestEnv(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	for _, tc := range []struct{ godebug, want string }{
		{"", "memprofilerate=0"},
		{"madvdontneed=1", "madvdontneed=1,memprofilerate=0"},
		{"memprofilerate=1,x=1", "memprofilerate=1,x=1"},
	} {
		t.Setenv("GODEBUG", tc.godebug)
		checkEnv(t, map[string]string{
			"PATH":               "/data/agent/bin:/usr/bin:/bin",
			"GOGC":               "50",
			"GODEBUG":            tc.want,
			pageout.ShimAfterEnv: "1m0s",
		})
	}
}

func checkEnv(t *testing.T, want map[string]string) {
	t.Helper()
	d := New(Config{BinDir: "/data/agent/bin", ShimPageOutAfter: time.Minute})
	cmd := exec.Command("/usr/bin/env")
	cmd.Env = d.env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(string(out)), "\n")
	for k, v := range want {
		var got []string
		for _, kv := range env {
			if val, ok := strings.CutPrefix(kv, k+"="); ok {
				got = append(got, val)
			}
		}
		if len(got) != 1 || got[0] != v {
			t.Errorf("%s in containerd's environment is %q, want %q", k, got, v)
		}
	}
}
