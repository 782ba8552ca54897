package registries

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	hostsconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/edgeos/edgeos/pkg/atomicfile"
	"github.com/edgeos/edgeos/pkg/pki"
)

// Every malformed file is refused with the line that is wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"syntax", "mirrors:\n  docker.io:\n    endpoint: [\n", "line 3"},
		{"unknown key", "mirrors:\n  docker.io:\n    endpoints:\n      - https://m\n", "line 3: unknown key endpoints"},
		{"wrong type", "mirrors:\n  docker.io:\n    endpoint: https://m\n", "line 3"},
		{"bad scheme", "mirrors:\n  docker.io:\n    endpoint:\n      - https://ok\n      - ftp://m\n", "line 5: mirrors.docker.io: endpoint \"ftp://m\": scheme"},
		{"credentials in URL", "mirrors:\n  r.example:\n    endpoint:\n      - https://u:secret@m\n", "line 4"},
		{"hostile registry", "mirrors:\n  ../../etc:\n    endpoint: [https://m]\n", "line 2: mirrors: \"../../etc\" is not a registry host"},
		{"path in registry", "configs:\n  r.example/x:\n    tls:\n      insecure_skip_verify: true\n", "line 2"},
		{"port", "configs:\n  r.example:99999:\n    auth: {username: u, password: p}\n", "line 2"},
		{"bad rewrite", "mirrors:\n  docker.io:\n    endpoint: [https://m]\n    rewrite:\n      \"^rancher/(.*\": \"r/$1\"\n", "line 5: mirrors.docker.io.rewrite: error parsing regexp"},
		{"half a user", "configs:\n  r.example:\n    auth:\n      username: u\n", "line 3: configs.r.example.auth: give both"},
		{"empty auth", "configs:\n  r.example:\n    auth: {}\n", "line 3"},
		{"half a key pair", "configs:\n  r.example:\n    tls:\n      cert_file: /c.pem\n", "line 3: configs.r.example.tls"},
		{"not a map", "- a\n", "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

// An empty file or a missing default file is no registry settings; a
// missing file asked for by name is an error.
func TestLoadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "registries.yaml")
	if f, err := Load(missing, false); err != nil || len(f.Mirrors)+len(f.Configs) != 0 {
		t.Errorf("missing default file: %+v, %v", f, err)
	}
	if _, err := Load(missing, true); err == nil {
		t.Error("a missing file given by --private-registry was accepted")
	}
	if f, err := Parse(nil); err != nil || len(MakePlan(f, Node{}).Hosts) != 0 {
		t.Errorf("empty file: %v", err)
	}
}

// Load checks the files the TLS settings name.
func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for name, body := range map[string]string{
		"line 4: configs.r.example.tls.ca_file":    "configs:\n  r.example:\n    tls:\n      ca_file: " + notPEM + "\n",
		"line 4: configs.r.example.tls.ca_file:":   "configs:\n  r.example:\n    tls:\n      ca_file: " + filepath.Join(dir, "none.pem") + "\n",
		"line 4: configs.r.example.tls: cert_file": "configs:\n  r.example:\n    tls:\n      cert_file: " + notPEM + "\n      key_file: " + notPEM + "\n",
	} {
		path := filepath.Join(dir, "registries.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path, true); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Load(%q): %v, want %q", body, err, name)
		}
	}
}

// The plan, read back by containerd's own hosts.toml parser: the mirrors
// in order, the registry last, paths, TLS settings per host, and "*" for
// registries without an entry.
func TestPlanAsContainerdReadsIt(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCA(t, dir)
	yml := fmt.Sprintf(`
mirrors:
  docker.io:
    endpoint:
      - "mirror.example:5000"
      - "http://10.0.0.9:8080/v2/hub-proxy"
      - "https://registry-1.docker.io"
  "*":
    endpoint:
      - "https://cache.example"
configs:
  "mirror.example:5000":
    tls:
      ca_file: %q
      cert_file: %q
      key_file: %q
  private.example:
    tls:
      insecure_skip_verify: true
`, ca, cert, key)
	f, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	plan := MakePlan(f, Node{})
	certsDir := filepath.Join(dir, "certs.d")
	if err := atomicfile.ReplaceDir(certsDir, plan.Hosts, 0o600); err != nil {
		t.Fatal(err)
	}
	hosts := hostsconfig.ConfigureHosts(context.Background(), hostsconfig.HostOptions{HostDir: hostsconfig.HostDirFromRoot(certsDir)})

	got := describe(t, hosts, "docker.io")
	want := []string{
		"https://mirror.example:5000/v2 pull,resolve ca client",
		"http://10.0.0.9:8080/v2/hub-proxy pull,resolve",
		"https://registry-1.docker.io/v2 pull,resolve,push",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docker.io:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = describe(t, hosts, "private.example")
	want = []string{"https://cache.example/v2 pull,resolve", "https://private.example/v2 pull,resolve,push skip-verify"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("private.example:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = describe(t, hosts, "quay.io")
	want = []string{"https://cache.example/v2 pull,resolve", "https://quay.io/v2 pull,resolve,push"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("quay.io through \"*\":\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// describe lists the hosts containerd tries for registry, in order.
func describe(t *testing.T, hosts docker.RegistryHosts, registry string) []string {
	t.Helper()
	list, err := hosts(registry)
	if err != nil {
		t.Fatalf("containerd reading the hosts of %s: %v", registry, err)
	}
	var out []string
	for _, h := range list {
		var caps []string
		for _, c := range []struct {
			c    docker.HostCapabilities
			name string
		}{{docker.HostCapabilityPull, "pull"}, {docker.HostCapabilityResolve, "resolve"}, {docker.HostCapabilityPush, "push"}} {
			if h.Capabilities.Has(c.c) {
				caps = append(caps, c.name)
			}
		}
		s := fmt.Sprintf("%s://%s%s %s", h.Scheme, h.Host, h.Path, strings.Join(caps, ","))
		if tr, ok := h.Client.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
			if tr.TLSClientConfig.RootCAs != nil {
				s += " ca"
			}
			if len(tr.TLSClientConfig.Certificates) > 0 {
				s += " client"
			}
			if tr.TLSClientConfig.InsecureSkipVerify {
				s += " skip-verify"
			}
		}
		out = append(out, s)
	}
	return out
}

// Credentials reach containerd's config intact whatever they hold, by
// the host containerd talks to, "*"'s for hosts named without an entry of
// their own (other.example has one, without credentials); and no
// formatting of the file prints them.
func TestCredentials(t *testing.T) {
	password := "p\"a\\ss\nword\x01ü"
	yml := fmt.Sprintf(`
mirrors:
  docker.io:
    endpoint: ["https://mirror.example"]
  quay.io:
    endpoint: ["https://quay-mirror.example"]
configs:
  docker.io:
    auth: {username: hub, password: %q}
  mirror.example:
    auth: {identitytoken: tok}
  "*":
    auth: {auth: dTpw}
  other.example:
    tls: {insecure_skip_verify: true}
`, password)
	f, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	section := MakePlan(f, Node{}).CRIRegistry("/data/agent/etc/containerd/certs.d")
	var cfg struct {
		Plugins map[string]struct {
			Registry struct {
				ConfigPath string `toml:"config_path"`
				Configs    map[string]struct {
					Auth map[string]string `toml:"auth"`
				} `toml:"configs"`
			} `toml:"registry"`
		} `toml:"plugins"`
	}
	if _, err := toml.Decode(section, &cfg); err != nil {
		t.Fatalf("the CRI registry section is not TOML: %v\n%s", err, section)
	}
	reg := cfg.Plugins["io.containerd.cri.v1.images"].Registry
	if reg.ConfigPath != "/data/agent/etc/containerd/certs.d" {
		t.Errorf("config_path %q", reg.ConfigPath)
	}
	want := map[string]map[string]string{
		"registry-1.docker.io": {"username": "hub", "password": password},
		"mirror.example":       {"identitytoken": "tok"},
		"quay.io":              {"auth": "dTpw"},
		"quay-mirror.example":  {"auth": "dTpw"},
	}
	if len(reg.Configs) != len(want) {
		t.Errorf("credentials for %d hosts, want %d", len(reg.Configs), len(want))
	}
	for host, w := range want {
		if fmt.Sprint(reg.Configs[host].Auth) != fmt.Sprint(w) {
			t.Errorf("credentials of %s: %q, want %q", host, reg.Configs[host].Auth, w)
		}
	}
	for _, s := range []string{fmt.Sprintf("%v", f), fmt.Sprintf("%+v", *f), fmt.Sprintf("%#v", f.Configs)} {
		if strings.Contains(s, "hub") || strings.Contains(s, "tok") || strings.Contains(s, "dTpw") {
			t.Errorf("formatting the file prints credentials: %s", s)
		}
	}
}

// writeCA writes a CA and a client key pair it signed, as PEM files.
func writeCA(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	c, err := pki.EnsureCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	if _, err := c.EnsureLeaf(cert, key, pki.Leaf{CommonName: "client"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	return c.CertFile, cert, key
}

// Peers come first for every registry the file mirrors, with the
// cluster's CA and the node's client certificate; a registry named only
// in configs, with no "*" mirror, keeps its own hosts.
func TestPlanWithPeers(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCA(t, dir)
	f, err := Parse([]byte("mirrors:\n  registry.example: {}\n  docker.io:\n    endpoint: [\"https://mirror.example\"]\nconfigs:\n  private.example:\n    tls: {insecure_skip_verify: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan := MakePlan(f, Node{Peers: Peers{URLs: []string{"https://10.0.0.3:5001", "https://10.0.0.2:5001"}, CAFile: ca, CertFile: cert, KeyFile: key}})
	certsDir := filepath.Join(dir, "certs.d")
	if err := atomicfile.ReplaceDir(certsDir, plan.Hosts, 0o600); err != nil {
		t.Fatal(err)
	}
	hosts := hostsconfig.ConfigureHosts(context.Background(), hostsconfig.HostOptions{HostDir: hostsconfig.HostDirFromRoot(certsDir)})
	for reg, want := range map[string][]string{
		"registry.example": {"https://10.0.0.3:5001/v2 pull,resolve ca client", "https://10.0.0.2:5001/v2 pull,resolve ca client", "https://registry.example/v2 pull,resolve,push"},
		"docker.io":        {"https://10.0.0.3:5001/v2 pull,resolve ca client", "https://10.0.0.2:5001/v2 pull,resolve ca client", "https://mirror.example/v2 pull,resolve", "https://registry-1.docker.io/v2 pull,resolve,push"},
		"private.example":  {"https://private.example/v2 pull,resolve,push skip-verify"},
	} {
		if got := describe(t, hosts, reg); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", reg, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// The endpoints of a mirror with rewrites go through the node's proxy,
// with this start's secret; without a proxy they are left out.
func TestPlanWithRewrites(t *testing.T) {
	f, err := Parse([]byte("mirrors:\n  docker.io:\n    endpoint: [\"https://mirror.example\", \"https://second.example\"]\n    rewrite:\n      \"^library/(.*)\": \"hub/$1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		proxy RewriteProxy
		want  []string
	}{
		{RewriteProxy{URL: "http://127.0.0.1:5002", Secret: "s3"}, []string{"http://127.0.0.1:5002/docker.io/0 pull,resolve", "http://127.0.0.1:5002/docker.io/1 pull,resolve", "https://registry-1.docker.io/v2 pull,resolve,push"}},
		{RewriteProxy{}, []string{"https://registry-1.docker.io/v2 pull,resolve,push"}},
	} {
		certsDir := filepath.Join(dir, tc.proxy.Secret+"certs.d")
		if err := atomicfile.ReplaceDir(certsDir, MakePlan(f, Node{Rewrite: tc.proxy}).Hosts, 0o600); err != nil {
			t.Fatal(err)
		}
		hosts := hostsconfig.ConfigureHosts(context.Background(), hostsconfig.HostOptions{HostDir: hostsconfig.HostDirFromRoot(certsDir)})
		if got := describe(t, hosts, "docker.io"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("proxy %q:\n%s\nwant\n%s", tc.proxy.URL, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		list, _ := hosts("docker.io")
		if tc.proxy.URL != "" && list[0].Header.Get("Authorization") != "Bearer s3" {
			t.Errorf("the proxy is not shown the secret: %v", list[0].Header)
		}
	}
	r := f.Routes()
	if len(r) != 2 || r[0].Path() != "/docker.io/0" || r[0].Root.String() != "https://mirror.example/v2" || r[0].Rewrite("library/busybox") != "hub/busybox" || r[0].Rewrite("other/x") != "other/x" {
		t.Errorf("routes: %+v", r)
	}
}
