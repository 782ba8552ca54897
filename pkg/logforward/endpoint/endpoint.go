// Package endpoint reads --log-forward: the URL of a log push API, whose
// path names its protocol (Loki's or OpenTelemetry's). It is apart from
// the forwarder so that the config can check the flag without linking
// the forwarder.
package endpoint

import (
	"fmt"
	"net/url"
	"strings"
)

// Protocol is the push API an endpoint speaks.
type Protocol int

const (
	// Loki is Grafana Loki's push API (/loki/api/v1/push), in its JSON
	// form.
	Loki Protocol = iota + 1
	// OTLP is OpenTelemetry's logs export over HTTP (/v1/logs), in
	// protobuf.
	OTLP
)

// Target is an endpoint to ship logs to.
type Target struct {
	URL      *url.URL
	Protocol Protocol
}

// The paths that name each protocol.
const (
	LokiPath = "/loki/api/v1/push"
	OTLPPath = "/v1/logs"
)

// Parse reads --log-forward: an http(s) URL whose path says the
// protocol. Its error never holds the URL's password.
func Parse(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("--log-forward is not a URL")
	}
	shown := u.Redacted()
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, fmt.Errorf("--log-forward %q: want an http:// or https:// URL", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("--log-forward %q: no query or fragment", shown)
	}
	switch {
	case strings.HasSuffix(u.Path, LokiPath):
		return Target{URL: u, Protocol: Loki}, nil
	case strings.HasSuffix(u.Path, OTLPPath):
		return Target{URL: u, Protocol: OTLP}, nil
	}
	return Target{}, fmt.Errorf("--log-forward %q: the path says the protocol; want …%s (Loki) or …%s (OTLP/HTTP)", shown, LokiPath, OTLPPath)
}

// ContentType is the media type of a request body in the protocol.
func (p Protocol) ContentType() string {
	if p == OTLP {
		return "application/x-protobuf"
	}
	return "application/json"
}
