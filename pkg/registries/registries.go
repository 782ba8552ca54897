// Package registries reads registries.yaml, k3s's file of registry mirrors
// and per-host credentials and TLS settings, unchanged, and turns it into
// containerd's registry configuration: a hosts.toml per registry (the
// mirrors in order, then the registry itself; CAs, client certificates)
// and the credentials by host that containerd's CRI config carries.
//
// Parse only reads bytes; Load also checks the files the TLS settings
// name. Plan is pure: the files to write, from a checked File.
package registries

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Default is read when --private-registry is not given.
const Default = "/etc/edgeos/registries.yaml"

// File is registries.yaml.
type File struct {
	// Mirrors by registry host ("docker.io", "registry.example:5000"),
	// or "*" for every registry without an entry of its own.
	Mirrors map[string]Mirror `yaml:"mirrors"`
	// Configs by host (a registry or a mirror endpoint's host:port), or
	// "*" for every host named in the file without an entry of its own.
	Configs map[string]HostConfig `yaml:"configs"`
}

// Mirror lists where a registry's images are pulled from, in order; the
// registry itself is tried last.
type Mirror struct {
	Endpoints []string `yaml:"endpoint"`
	// Rewrites are k3s's repository rewrites, regular expression →
	// replacement ($1 for a group), applied to the repository asked of the
	// endpoints (not of the registry itself). containerd has none: those
	// endpoints are reached through edgeos's proxy (pkg/rewrite).
	Rewrites map[string]string `yaml:"rewrite"`
}

// HostConfig is how to talk to one host.
type HostConfig struct {
	Auth *Auth `yaml:"auth"`
	TLS  *TLS  `yaml:"tls"`
}

// Auth are credentials: username and password, auth (their base64
// "user:password"), or an identity token.
type Auth struct {
	Username      string `yaml:"username"`
	Password      string `yaml:"password"`
	Auth          string `yaml:"auth"`
	IdentityToken string `yaml:"identitytoken"`
}

// String keeps credentials out of every message that formats an Auth.
func (Auth) String() string { return "<credentials>" }

// GoString is String, for %#v.
func (a Auth) GoString() string { return a.String() }

// TLS are the files and checks of a TLS connection to a host.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Load reads and checks the file at path. A missing file is no
// registries at all when path is the default one nobody asked for
// (explicit false), and an error otherwise.
func Load(path string, explicit bool) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--private-registry: %w", err)
	}
	f, lines, err := parse(b)
	if err == nil {
		err = checkFiles(f, lines)
	}
	if err != nil {
		return nil, fmt.Errorf("--private-registry %s: %w", path, err)
	}
	return f, nil
}

// Parse reads registries.yaml. Every error names the line that is wrong.
func Parse(b []byte) (*File, error) {
	f, _, err := parse(b)
	return f, err
}

func parse(b []byte) (*File, lines, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, nil, err
	}
	f := &File{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, oneLine(err)
	}
	l := index(&root)
	if err := check(f, l); err != nil {
		return nil, nil, err
	}
	return f, l, nil
}

// oneLine turns yaml's list of decoding errors into one line, each with
// its line number, in the file's words rather than Go's.
func oneLine(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		// yaml's message for a key the file's types lack
		if line, rest, ok := strings.Cut(m, ": field "); ok {
			if field, _, ok := strings.Cut(rest, " not found in type "); ok {
				m = line + ": unknown key " + field
			}
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}
