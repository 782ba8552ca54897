package logfilter

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// entry is one line of the JSON log: the keys logrus's JSON formatter
// writes for edgeos's own messages, and where an upstream line came from.
type entry struct {
	Time   string `json:"time"`
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Source string `json:"source,omitempty"`
	Fields string `json:"fields,omitempty"`
	// Continued: the line continues the entry before it (a stack trace)
	Continued bool `json:"continued,omitempty"`
}

// the parts of a klog header, and of a logrus text line
var (
	klogParts   = regexp.MustCompile(`^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ([^ \]]+:\d+)\] (.*)$`)
	logrusParts = regexp.MustCompile(`^time="([^"]*)" level=(\w+) ?(.*)$`)
	logrusMsg   = regexp.MustCompile(`^msg=("(?:[^"\\]|\\.)*")\s*(.*)$`)
)

var klogLevels = map[string]string{"I": "info", "W": "warning", "E": "error", "F": "fatal"}

// toJSON turns one line of upstream output (without its newline) into a
// JSON entry: a klog line keeps its level and file:line, a logrus text line
// (containerd's) its time, level, message and fields; an indented line is
// a continuation at the level of the entry before it (prev), and so is
// the rest of a line too long to be read at once (continued); any other is
// a message at level info. now stamps what carries no time of its own.
func toJSON(line string, now time.Time, prev string, continued bool) (out []byte, level string) {
	e := entry{Time: now.UTC().Format(time.RFC3339Nano), Level: "info", Msg: line}
	switch {
	case continued || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t"):
		e.Level, e.Continued = prev, true
	case klogParts.MatchString(line):
		m := klogParts.FindStringSubmatch(line)
		e.Level, e.Source, e.Msg = klogLevels[m[1]], m[2], m[3]
	case logrusParts.MatchString(line):
		m := logrusParts.FindStringSubmatch(line)
		e.Time, e.Level, e.Msg = m[1], m[2], m[3]
		if mm := logrusMsg.FindStringSubmatch(m[3]); mm != nil {
			if msg, err := strconv.Unquote(mm[1]); err == nil {
				e.Msg, e.Fields = msg, mm[2]
			}
		}
	}
	if e.Level == "" {
		e.Level = "info"
	}
	b, err := json.Marshal(e)
	if err != nil {
		// strings always marshal; keep the line rather than lose it
		return []byte(strconv.Quote(line)), e.Level
	}
	return b, e.Level
}
