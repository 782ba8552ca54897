package containerd

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEnv runs a program with containerd's environment: BinDir comes first
// in PATH, and the GC target is set.
func TestEnv(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	d := New(Config{BinDir: "/data/agent/bin"})
	cmd := exec.Command("/usr/bin/env")
	cmd.Env = d.env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := map[string]string{"PATH": "/data/agent/bin:/usr/bin:/bin", "GOGC": "50"}
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
