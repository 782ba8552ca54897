package integration

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
)

// TestCheckConfig runs the real check on this host: every check appears,
// and the exit code agrees with the verdict.
func TestCheckConfig(t *testing.T) {
	out, err := exec.Command(harness.Binary(t), "check-config").Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	report := string(out)
	for _, check := range []string{"kernel", "namespaces", "cgroup controllers", "overlay", "br_netfilter", "conntrack", "bridge", "veth", "vxlan", "iptables", "mount", "swap"} {
		if !strings.Contains(report, " "+check+" ") {
			t.Errorf("report lacks the %s check:\n%s", check, report)
		}
	}
	cannot := strings.Contains(report, "cannot run an edgeos node")
	if cannot != (code != 0) {
		t.Errorf("exit code %d disagrees with the verdict:\n%s", code, report)
	}
	if cannot != strings.Contains(report, "MISSING") {
		t.Errorf("verdict and findings disagree:\n%s", report)
	}
}
