package registries

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Plan is what containerd is told about registries.
type Plan struct {
	// Hosts are the hosts.toml files of containerd's registry config
	// directory, by path inside it: <registry>/hosts.toml, and
	// _default/hosts.toml for the "*" mirror.
	Hosts map[string][]byte
	// Auths are the credentials by host, in host order; containerd looks
	// them up by the host it is about to talk to (a mirror or the
	// registry).
	Auths []HostAuth
}

// HostAuth are one host's credentials.
type HostAuth struct {
	Host string
	Auth Auth
}

// defaultDir is containerd's directory for registries without one of their
// own.
const defaultDir = "_default"

// dockerHub is the host docker.io's images come from: containerd asks it,
// and looks its credentials up, under this name.
const dockerHub = "registry-1.docker.io"

// Peers are the registry mirrors of the cluster's other nodes
// (pkg/mirror), tried first for every registry the file mirrors.
type Peers struct {
	// URLs are https://IP:PORT, in the order to try.
	URLs []string
	// CAFile verifies the peers' serving certificates; CertFile and
	// KeyFile are this node's client certificate, which peers ask for.
	CAFile, CertFile, KeyFile string
}

// peerDialTimeout: peers are on the cluster's network; one that does not
// answer soon is skipped for the next.
const peerDialTimeout = "2s"

// Node is what the node adds to the file: its peers, and the proxy of the
// endpoints with rewrites.
type Node struct {
	Peers   Peers
	Rewrite RewriteProxy
}

// MakePlan turns a file that passed Parse into containerd's config. Each
// registry named in the file gets a hosts.toml: the peers and then its
// mirrors in order (the "*" entry's for a registry without its own), then
// the registry itself as the last resort, with the TLS settings of configs
// for each host. A registry the file names only in configs, with no "*"
// mirror, gets no peers. The endpoints of a mirror with rewrites are
// reached through node.Rewrite (left out when there is none: unrewritten,
// they would serve other images than the file says).
func MakePlan(f *File, node Node) Plan {
	if f == nil {
		f = &File{}
	}
	p := Plan{Hosts: map[string][]byte{}}
	registries := map[string]bool{}
	for reg := range f.Mirrors {
		registries[reg] = true
	}
	for host := range f.Configs {
		if host != Wildcard {
			registries[host] = true
		}
	}
	for _, reg := range slices.Sorted(maps.Keys(registries)) {
		key := reg
		mirror, own := f.Mirrors[reg]
		if !own {
			key, mirror = Wildcard, f.Mirrors[Wildcard]
		}
		dir := reg
		if reg == Wildcard {
			dir = defaultDir
		}
		var ps Peers
		if own || hasKey(f.Mirrors, Wildcard) {
			ps = node.Peers
		}
		var rw *RewriteProxy
		if len(mirror.Rewrites) > 0 {
			rw = &node.Rewrite
		}
		p.Hosts[dir+"/hosts.toml"] = hostsTOML(f, reg, key, mirror.Endpoints, ps, rw)
	}
	p.Auths = auths(f)
	return p
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// hostsTOML is one registry's hosts.toml, with the endpoints of the
// mirror entry key (reg's own or "*"); rw, when not nil, is where they are
// reached. Endpoints are checked.
func hostsTOML(f *File, reg, key string, endpoints []string, peers Peers, rw *RewriteProxy) []byte {
	var b strings.Builder
	b.WriteString("# Written by edgeos from registries.yaml at every start.\n")
	// no server line: containerd's default for the registry (Docker Hub's
	// host for docker.io, plain HTTP for localhost) is the last resort
	writeTLS(&b, "", f.config(reg))
	def := "https://" + serverHost(reg)
	seen := map[string]bool{def: true, def + "/v2": true}
	for _, u := range peers.URLs {
		if seen[u] {
			continue
		}
		seen[u] = true
		fmt.Fprintf(&b, "\n[host.%s]\n", tomlString(u))
		b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
		fmt.Fprintf(&b, "  dial_timeout = %s\n", tomlString(peerDialTimeout))
		writeTLS(&b, "  ", HostConfig{TLS: &TLS{CAFile: peers.CAFile, CertFile: peers.CertFile, KeyFile: peers.KeyFile}})
	}
	for i, s := range endpoints {
		e, _ := parseEndpoint(s)
		if rw != nil {
			if rw.URL == "" {
				continue
			}
			u := rw.URL + Route{Registry: key, Index: i}.Path()
			fmt.Fprintf(&b, "\n[host.%s]\n", tomlString(u))
			b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n")
			fmt.Fprintf(&b, "  [host.%s.header]\n    Authorization = %s\n", tomlString(u), tomlString("Bearer "+rw.Secret))
			continue
		}
		if seen[e.url()] {
			continue
		}
		seen[e.url()] = true
		fmt.Fprintf(&b, "\n[host.%s]\n", tomlString(e.url()))
		b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
		if e.OverridePath {
			b.WriteString("  override_path = true\n")
		}
		writeTLS(&b, "  ", f.config(e.Host))
	}
	return []byte(b.String())
}

// serverHost is where a registry's own images are: docker.io's are on
// Docker Hub's registry host.
func serverHost(reg string) string {
	if reg == "docker.io" {
		return dockerHub
	}
	return reg
}

// config is the TLS and credentials for host: its own entry, else "*"'s.
func (f *File) config(host string) HostConfig {
	if c, ok := f.Configs[host]; ok {
		return c
	}
	if host == dockerHub {
		if c, ok := f.Configs["docker.io"]; ok {
			return c
		}
	}
	return f.Configs[Wildcard]
}

func writeTLS(b *strings.Builder, indent string, c HostConfig) {
	t := c.TLS
	if t == nil {
		return
	}
	if t.CAFile != "" {
		fmt.Fprintf(b, "%sca = %s\n", indent, tomlString(t.CAFile))
	}
	if t.CertFile != "" {
		fmt.Fprintf(b, "%sclient = [[%s, %s]]\n", indent, tomlString(t.CertFile), tomlString(t.KeyFile))
	}
	if t.InsecureSkipVerify {
		fmt.Fprintf(b, "%sskip_verify = true\n", indent)
	}
}

// auths are the credentials of every host named in the file (registries,
// endpoint hosts, configs): its own, else "*"'s. containerd looks
// credentials up by exact host, so "*" reaches only hosts the file names;
// sending them to any registry at all would give them away.
func auths(f *File) []HostAuth {
	hosts := map[string]bool{}
	for reg, m := range f.Mirrors {
		if reg != Wildcard {
			hosts[serverHost(reg)] = true
		}
		for _, s := range m.Endpoints {
			e, _ := parseEndpoint(s)
			hosts[e.Host] = true
		}
	}
	for host := range f.Configs {
		if host != Wildcard {
			hosts[serverHost(host)] = true
		}
	}
	var out []HostAuth
	for _, h := range slices.Sorted(maps.Keys(hosts)) {
		if a := f.config(h).Auth; a != nil {
			out = append(out, HostAuth{Host: h, Auth: *a})
		}
	}
	return slices.Clip(out)
}

// CRIRegistry is the registry section of containerd's CRI image config:
// the hosts.toml directory and the credentials by host.
func (p Plan) CRIRegistry(certsDir string) string {
	var b strings.Builder
	b.WriteString("[plugins.'io.containerd.cri.v1.images'.registry]\n")
	fmt.Fprintf(&b, "  config_path = %s\n", tomlString(certsDir))
	for _, a := range p.Auths {
		fmt.Fprintf(&b, "  [plugins.'io.containerd.cri.v1.images'.registry.configs.%s.auth]\n", tomlString(a.Host))
		for _, kv := range [][2]string{{"username", a.Auth.Username}, {"password", a.Auth.Password}, {"auth", a.Auth.Auth}, {"identitytoken", a.Auth.IdentityToken}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "    %s = %s\n", kv[0], tomlString(kv[1]))
			}
		}
	}
	return b.String()
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
