package logfilter

import (
	"os"
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   Phase
		show bool
	}{
		{`I1130 10:11:05.105407   26183 server.go:12] "Serving securely"`, Running, false},
		{`W1130 10:11:05.134299   26183 genericapiserver.go:798] Skipping API apps/v1beta1 because it has no resources.`, Running, false},
		{`E1130 10:11:09.337180   26183 kubelet_node_status.go:396] "Error getting the current node from lister" err="node \"server\" not found"`, Starting, false},
		{`E1130 10:11:09.337180   26183 kubelet_node_status.go:396] "Error getting the current node from lister" err="node \"server\" not found"`, Running, true},
		{`E1130 10:11:09.316166   26183 server.go:1332] "Failed to set rlimit on max file handles" err="operation not permitted"`, Starting, true},
		{`E1130 10:11:10.493726   26183 remote_runtime.go:435] "ListPodSandbox with filter from runtime service failed"`, Stopping, false},
		{`F1130 10:11:10.493726   26183 server.go:1] "cannot go on"`, Stopping, true},
		{`W1130 17:17:42.468217   31391 endpointsreconciler.go:233] Resetting endpoints for master service "kubernetes" to &v1.Endpoints{}`, Starting, false},
		{`W1130 17:17:42.468217   31391 endpointsreconciler.go:233] Resetting endpoints for master service "kubernetes" to &v1.Endpoints{}`, Running, true},
		{`time="2026-11-30T10:11:08.822Z" level=warning msg="failed check for fsverity support"`, Running, false},
		{`E1130 21:07:31.158083   21139 range_allocator.go:438] "Failed to update node PodCIDR after multiple attempts" err="failed to patch node CIDR: Node \"server\" is invalid: [spec.podCIDRs: Invalid value: [\"10.42.1.0/24\",\"10.42.0.0/24\"]: may specify no more than one CIDR for each IP family, spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid]"`, Running, false},
		{`E1202 05:05:59.568520   18350 replica_set.go:159] "unable to register metrics" err="duplicate metrics collector registration attempted" logger="replicaset-controller"`, Running, false},
		{`E1202 05:05:59.568520   18350 replica_set.go:159] "unable to register metrics" err="descriptor Desc{...} is invalid" logger="replicaset-controller"`, Running, true},
		{"time=\"2026-11-30T19:15:12.712Z\" level=warning msg=\"`configs` is deprecated, please use `config_path` instead\"", Running, false},
		{`time="2026-11-30T19:15:12.712Z" level=warning msg="Found 'Registry.Configs' in CRI config which is incompatible with transfer service (not supported with transfer service (also deprecated)). Falling back to local image pull mode."`, Running, false},
		{`time="2026-11-30T10:11:08.834Z" level=warning msg="failed to load cni during init, please check CRI plugin status"`, Starting, false},
		{`time="2026-11-30T10:11:08.834Z" level=error msg="failed to pull image"`, Starting, true},
		{`time="2026-11-30T10:11:08.834Z" level=info msg="loading plugin"`, Running, false},
	} {
		if d := decide(tc.line, tc.at); d.continued || d.show != tc.show {
			t.Errorf("%q in phase %d: %+v, want shown %v", tc.line, tc.at, d, tc.show)
		}
	}
	if d := decide("\tat main.go:12", Running); !d.continued {
		t.Error("an indented line not taken as a continuation")
	}
	if d := decide("containerd: paged out start-up pages", Starting); d.continued || !d.show {
		t.Error("a plain message not shown")
	}
}

// Through the relay: a hidden entry's continuation lines are hidden with
// it, a shown one's shown; a line longer than the buffer passes whole;
// Close delivers everything written before it.
func TestRelay(t *testing.T) {
	long := "E1130 10:00:00.000000 1 a.go:1] " + strings.Repeat("x", 3*maxLine) + "\n"
	input := "I1130 10:00:00.000000 1 a.go:1] hidden info\n" +
		"  hidden continuation\n" +
		"plain message\n" +
		"E1130 10:00:00.000000 1 a.go:1] shown error\n" +
		"  shown continuation\n" +
		long
	out := relayed(t, Options{Filter: true}, input)
	want := "plain message\nE1130 10:00:00.000000 1 a.go:1] shown error\n  shown continuation\n" + long
	if out != want {
		t.Errorf("relayed %d bytes, want %d:\n%.300s", len(out), len(want), out)
	}
}

// The tap gets what is shown, as text, also with --log-format json; with
// the filter off (--debug), everything.
func TestRelayTap(t *testing.T) {
	input := "I1130 10:00:00.000000 1 a.go:1] hidden info\n" +
		"plain message\n" +
		"E1130 10:00:00.000000 1 a.go:1] shown error\n"
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Filter: true, JSON: true}, "plain message\nE1130 10:00:00.000000 1 a.go:1] shown error\n"},
		{Options{}, input},
	} {
		var tapped strings.Builder
		tc.opts.Tap = func(line []byte) { tapped.Write(line) }
		out := relayed(t, tc.opts, input)
		if tapped.String() != tc.want {
			t.Errorf("%+v: tapped %q, want %q", tc.opts, tapped.String(), tc.want)
		}
		if tc.opts.JSON && !strings.HasPrefix(out, "{") {
			t.Errorf("the tap changed what is written: %q", out)
		}
	}
}

// relayed writes input to os.Stderr through a relay started with opts,
// closes it, and returns what reached the standard error it replaced
// (checking that Close gave os.Stderr back).
func relayed(t *testing.T, opts Options, input string) string {
	t.Helper()
	saved := os.Stderr
	defer func() { os.Stderr = saved }()
	outFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	os.Stderr = outFile
	r, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stderr.WriteString(input); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if os.Stderr != outFile {
		t.Error("Close did not give os.Stderr back")
	}
	b, err := os.ReadFile(outFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
