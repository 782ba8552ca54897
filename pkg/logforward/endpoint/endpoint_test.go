package endpoint

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for raw, want := range map[string]string{
		"http://loki:3100/loki/api/v1/push":            "",
		"https://u:p@logs.example.com/otlp/v1/logs":    "",
		"ftp://loki/loki/api/v1/push":                  "http:// or https://",
		"http://collector:4318/v1/traces":              "the path says the protocol",
		"https://u:hunter2@collector:4318/":            "the path says the protocol",
		"http://collector:4318/v1/logs?x=1":            "no query",
		"http:///v1/logs":                              "http:// or https://",
		"http://collector:4318/v1/logs\x7f":            "not a URL",
		"https://u:hunter2@collector:4318/v1/metrics/": "the path says the protocol",
		"http://u:hunter2@collector/v1/logs\x7f":       "not a URL",
	} {
		_, err := Parse(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", raw, err)
		case want != "" && err == nil:
			t.Errorf("%q accepted", raw)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%q: the error shows the password: %v", raw, err)
		case err != nil && !strings.Contains(err.Error(), want):
			t.Errorf("%q: %v, want %q", raw, err, want)
		}
	}
}
