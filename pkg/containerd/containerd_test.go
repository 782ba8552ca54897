package containerd

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pageout"
)

// TestEnv runs a program with containerd's environment: the page-out delay
// is edgeos's setting even where edgeos's own environment said otherwise
// (a flag beat it), and BinDir comes first in PATH.
func TestEnv(t *testing.T) {
	t.Setenv(pageout.AfterEnv, "5m")
	t.Setenv("PATH", "/usr/bin:/bin")
	for _, after := range []time.Duration{0, 90 * time.Second} {
		d := New(Config{BinDir: "/data/agent/bin", PageOutAfter: after})
		cmd := exec.Command("/usr/bin/env")
		cmd.Env = d.env()
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		env := strings.Split(strings.TrimSpace(string(out)), "\n")
		want := map[string]string{pageout.AfterEnv: after.String(), "PATH": "/data/agent/bin:/usr/bin:/bin", "GOGC": "50"}
		for k, v := range want {
			var got []string
			for _, kv := range env {
				if val, ok := strings.CutPrefix(kv, k+"="); ok {
					got = append(got, val)
				}
			}
			if len(got) != 1 || got[0] != v {
				t.Errorf("PageOutAfter %s: %s in containerd's environment is %q, want %q", after, k, got, v)
			}
		}
	}
}
