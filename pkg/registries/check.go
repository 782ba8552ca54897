package registries

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lines are the line numbers of the file's keys and list items, by path
// ("mirrors", "docker.io", "endpoint", "0"), for errors that name them.
type lines map[string]int

func key(path ...string) string { return strings.Join(path, "\x00") }

// at is the line of the deepest part of path the file has.
func (l lines) at(path ...string) string {
	for n := len(path); n > 0; n-- {
		if line, ok := l[key(path[:n]...)]; ok {
			return fmt.Sprintf("line %d", line)
		}
	}
	return "the file"
}

// index records the line of every mapping key and sequence item.
func index(root *yaml.Node) lines {
	l := lines{}
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := append(slices.Clone(path), n.Content[i].Value)
				l[key(p...)] = n.Content[i].Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := append(slices.Clone(path), strconv.Itoa(i))
				l[key(p...)] = c.Line
				walk(c, p)
			}
		}
	}
	walk(root, nil)
	return l
}

// Wildcard is the registry (in mirrors) or host (in configs) that stands
// for all others.
const Wildcard = "*"

func checkHost(h string) error {
	if h == Wildcard {
		return nil
	}
	if !ValidHost(h) {
		return fmt.Errorf("%q is not a registry host (host or host:port)", h)
	}
	if i := strings.LastIndex(h, "]:"); i >= 0 || (!strings.HasPrefix(h, "[") && strings.Contains(h, ":")) {
		port, _ := strconv.Atoi(h[strings.LastIndex(h, ":")+1:])
		if port < 1 || port > 65535 {
			return fmt.Errorf("%q: port out of range", h)
		}
	}
	return nil
}

// endpoint is a mirror endpoint as containerd is told: scheme, host and
// API root path.
type endpoint struct {
	Scheme, Host, Path string
	// OverridePath: Path is the whole API root (it does not end in /v2).
	OverridePath bool
}

func (e endpoint) url() string { return e.Scheme + "://" + e.Host + e.Path }

// parseEndpoint reads an endpoint as k3s does: a URL, https:// when the
// scheme is left out; a path other than /v2 is the API root.
func parseEndpoint(s string) (endpoint, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("endpoint %q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return endpoint{}, fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	case u.User != nil:
		return endpoint{}, fmt.Errorf("endpoint %q: credentials belong in configs.<host>.auth, not in the URL", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return endpoint{}, fmt.Errorf("endpoint %q: no query or fragment", raw)
	}
	if err := checkHost(u.Host); err != nil || u.Host == Wildcard {
		return endpoint{}, fmt.Errorf("endpoint %q: host %q is not host or host:port", raw, u.Host)
	}
	e := endpoint{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}
	e.OverridePath = e.Path != "" && !strings.HasSuffix(e.Path, "/v2")
	return e, nil
}

// check reads what the file says; it does not look at other files.
func check(f *File, l lines) error {
	var errs []error
	for _, reg := range slices.Sorted(maps.Keys(f.Mirrors)) {
		m := f.Mirrors[reg]
		if err := checkHost(reg); err != nil {
			errs = append(errs, fmt.Errorf("%s: mirrors: %w", l.at("mirrors", reg), err))
			continue
		}
		for _, pattern := range slices.Sorted(maps.Keys(m.Rewrites)) {
			if _, err := regexp.Compile(pattern); err != nil {
				errs = append(errs, fmt.Errorf("%s: mirrors.%s.rewrite: %w", l.at("mirrors", reg, "rewrite", pattern), reg, err))
			}
		}
		for i, s := range m.Endpoints {
			if _, err := parseEndpoint(s); err != nil {
				errs = append(errs, fmt.Errorf("%s: mirrors.%s: %w", l.at("mirrors", reg, "endpoint", strconv.Itoa(i)), reg, err))
			}
		}
	}
	for _, host := range slices.Sorted(maps.Keys(f.Configs)) {
		c := f.Configs[host]
		if err := checkHost(host); err != nil {
			errs = append(errs, fmt.Errorf("%s: configs: %w", l.at("configs", host), err))
			continue
		}
		if a := c.Auth; a != nil {
			user := a.Username != "" || a.Password != ""
			switch {
			case user && (a.Username == "" || a.Password == ""):
				errs = append(errs, fmt.Errorf("%s: configs.%s.auth: give both username and password", l.at("configs", host, "auth"), host))
			case !user && a.Auth == "" && a.IdentityToken == "":
				errs = append(errs, fmt.Errorf("%s: configs.%s.auth: give username and password, auth or identitytoken", l.at("configs", host, "auth"), host))
			}
		}
		if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
			errs = append(errs, fmt.Errorf("%s: configs.%s.tls: give both cert_file and key_file", l.at("configs", host, "tls"), host))
		}
	}
	return errors.Join(errs...)
}

// checkFiles reads the CAs and key pairs the TLS settings name, so that a
// wrong path stops the start instead of every pull.
func checkFiles(f *File, l lines) error {
	var errs []error
	for _, host := range slices.Sorted(maps.Keys(f.Configs)) {
		t := f.Configs[host].TLS
		if t == nil {
			continue
		}
		if t.CAFile != "" {
			if b, err := os.ReadFile(t.CAFile); err != nil {
				errs = append(errs, fmt.Errorf("%s: configs.%s.tls.ca_file: %w", l.at("configs", host, "tls", "ca_file"), host, err))
			} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
				errs = append(errs, fmt.Errorf("%s: configs.%s.tls.ca_file %s holds no PEM certificate", l.at("configs", host, "tls", "ca_file"), host, t.CAFile))
			}
		}
		if t.CertFile != "" {
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				errs = append(errs, fmt.Errorf("%s: configs.%s.tls: cert_file and key_file: %w", l.at("configs", host, "tls", "cert_file"), host, err))
			}
		}
	}
	return errors.Join(errs...)
}
