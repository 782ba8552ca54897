package logfilter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestToJSON(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		line, prev string
		continued  bool
		want       entry
	}{
		{`E1130 10:11:09.337180   26183 kubelet_node_status.go:396] "Error getting the node" err="node \"server\" not found"`, "", false,
			entry{Time: "2026-11-30T10:00:00Z", Level: "error", Source: "kubelet_node_status.go:396", Msg: `"Error getting the node" err="node \"server\" not found"`}},
		{`time="2026-11-30T10:11:08.834Z" level=warning msg="failed to load cni during init, \"x\"" error="cni config load failed"`, "", false,
			entry{Time: "2026-11-30T10:11:08.834Z", Level: "warning", Msg: `failed to load cni during init, "x"`, Fields: `error="cni config load failed"`}},
		{"\tat main.go:12", "error", false, entry{Time: "2026-11-30T10:00:00Z", Level: "error", Msg: "\tat main.go:12", Continued: true}},
		{"rest of a long line", "warning", true, entry{Time: "2026-11-30T10:00:00Z", Level: "warning", Msg: "rest of a long line", Continued: true}},
		{"Flag --x has been deprecated", "error", false, entry{Time: "2026-11-30T10:00:00Z", Level: "info", Msg: "Flag --x has been deprecated"}},
		{"bad \xff utf-8 \"quoted\"", "", false, entry{Time: "2026-11-30T10:00:00Z", Level: "info", Msg: "bad \ufffd utf-8 \"quoted\""}},
	} {
		b, level := toJSON(tc.line, now, tc.prev, tc.continued)
		var got entry
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not JSON: %v", tc.line, b, err)
			continue
		}
		if got != tc.want || level != tc.want.Level {
			t.Errorf("%q:\n got %+v (level %s)\nwant %+v", tc.line, got, level, tc.want)
		}
	}
}

// Through the relay in JSON mode with the filter off (-v, --debug): every
// line comes out as one JSON object, a long line in pieces.
func TestRelayJSON(t *testing.T) {
	long := "W1130 10:00:00.000000 1 a.go:1] " + strings.Repeat("x", 2*maxLine) + "\n"
	input := "I1130 10:00:00.000000 1 a.go:1] info shown without the filter\n  its continuation\nplain\n" + long
	out := relayed(t, Options{JSON: true}, input)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var levels []string
	total := 0
	for _, l := range lines {
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not JSON: %.80q: %v", l, err)
		}
		levels = append(levels, e.Level)
		total += len(e.Msg)
	}
	if len(lines) < 5 || levels[0] != "info" || levels[1] != "info" || levels[3] != "warning" || levels[len(levels)-1] != "warning" {
		t.Errorf("levels %v", levels)
	}
	if total < 2*maxLine {
		t.Errorf("the long line lost text: %d bytes of messages", total)
	}
}
