package integration

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
)

// warningOrError matches a log line at level W or E: klog's (E1130 …) and
// logrus's (level=error).
var warningOrError = regexp.MustCompile(`^[EW]\d{4} |level=(warning|error|fatal)`)

// harnessConditions are warnings true of the harness's machines and not of
// edgeos: a node runs without CAP_SYS_RESOURCE (so no OOM score below
// containerd's, no raised file limit) and in a PID namespace of its own.
var harnessConditions = []string{
	"edgeos lacks CAP_SYS_RESOURCE",
	"Failed to set rlimit on max file handles",
	"Failed to ensure process in container with oom score",
}

// TestQuietStart starts a fresh server, waits until its node is Ready, and
// stops it: no line of its log is a warning or an error, since nothing is
// wrong (but what the harness's machines lack), and upstream's
// informational lines are not there either. With --debug they are. With
// --log-format json every line is a JSON object, the same count of
// warnings and errors; with -v 2 as well, upstream's informational lines
// are there, at the verbosity asked for.
func TestQuietStart(t *testing.T) {
	c := harness.New(t)
	nodes, _ := c.StartCluster(0, nil)
	srv := nodes[0]
	if code := srv.Stop(); code != 0 {
		t.Fatalf("edgeos exited %d", code)
	}
	var noisy []string
	lines := strings.Split(srv.Log(), "\n")
	upstreamInfo := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "I1") {
			upstreamInfo++
		}
		if !warningOrError.MatchString(line) {
			continue
		}
		known := false
		for _, h := range harnessConditions {
			known = known || strings.Contains(line, h)
		}
		if !known {
			noisy = append(noisy, line)
		}
	}
	t.Logf("%d lines logged", len(lines))
	if len(noisy) > 0 {
		t.Errorf("%d warnings or errors on a clean start:\n%s", len(noisy), strings.Join(noisy, "\n"))
	}
	if upstreamInfo > 0 {
		t.Errorf("%d informational lines of upstream components without --debug", upstreamInfo)
	}
	if !strings.Contains(srv.Log(), "edgeos server is ready") {
		t.Error("edgeos's own messages are missing")
	}

	// --debug shows everything
	srv.Start(srv.ServerArgs("--debug")...)
	srv.WaitLog("edgeos server is ready")
	srv.Stop()
	if !strings.Contains(srv.Log(), "because it has no resources") {
		t.Error("with --debug, upstream's warnings are hidden")
	}

	for _, tc := range []struct {
		args    []string
		verbose bool
	}{{[]string{"--log-format", "json"}, false}, {[]string{"--log-format", "json", "-v", "2"}, true}} {
		srv.Start(srv.ServerArgs(tc.args...)...)
		srv.WaitLog(`"msg":"edgeos server is ready`)
		if code := srv.Stop(); code != 0 {
			t.Fatalf("%v: edgeos exited %d", tc.args, code)
		}
		var problems []string
		upstreamInfo, verboseInfo := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(srv.Log()), "\n") {
			// the etcd client in the apiserver logs JSON of its own (zap's:
			// its time is "ts")
			var e struct{ Time, TS, Level, Msg, Source string }
			if err := json.Unmarshal([]byte(line), &e); err != nil || (e.Time == "" && e.TS == "") || e.Level == "" {
				t.Errorf("%v: not a JSON entry with time and level: %.200q (%v)", tc.args, line, err)
				continue
			}
			if e.Source != "" && e.Level == "info" {
				upstreamInfo++
				// the components print their flags at verbosity 1 and up
				if strings.HasPrefix(e.Msg, "FLAG: --") {
					verboseInfo++
				}
			}
			known := false
			for _, h := range harnessConditions {
				known = known || strings.Contains(e.Msg, h)
			}
			if (e.Level == "warning" || e.Level == "error") && !known && !tc.verbose {
				problems = append(problems, line)
			}
		}
		if len(problems) > 0 {
			t.Errorf("%v: %d warnings or errors on a clean start:\n%s", tc.args, len(problems), strings.Join(problems, "\n"))
		}
		if tc.verbose != (upstreamInfo > 0) {
			t.Errorf("%v: %d informational lines of upstream components", tc.args, upstreamInfo)
		}
		if tc.verbose && verboseInfo == 0 {
			t.Errorf("%v: no upstream line of verbosity 1 or more", tc.args)
		}
	}
}
