package registries

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	hostsconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/edgeos/edgeos/pkg/atomicfile"
)

// FuzzParse: no file ends the process, and whatever Parse accepts turns
// into hosts.toml files containerd reads and a CRI section that is TOML.
func FuzzParse(f *testing.F) {
	f.Add([]byte("mirrors:\n  docker.io:\n    endpoint: [\"https://m:5000/v2/p\", \"http://[::1]:80\"]\n  \"*\":\n    endpoint: [c.example]\nconfigs:\n  m:5000:\n    auth: {username: u, password: \"p\\\"\"}\n    tls: {insecure_skip_verify: true}\n"))
	f.Add([]byte("configs:\n  \"*\":\n    auth: {auth: x}\n"))
	f.Add([]byte("mirrors: {a.b: {endpoint: [\"https://x/\\u0001\"]}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		plan := MakePlan(file, Node{Rewrite: RewriteProxy{URL: "http://127.0.0.1:5002", Secret: "s\"x"}})
		dir := filepath.Join(t.TempDir(), "certs.d")
		if err := atomicfile.ReplaceDir(dir, plan.Hosts, 0o600); err != nil {
			t.Fatalf("writing the plan: %v", err)
		}
		hosts := hostsconfig.ConfigureHosts(context.Background(), hostsconfig.HostOptions{HostDir: hostsconfig.HostDirFromRoot(dir)})
		for name := range plan.Hosts {
			reg := strings.TrimSuffix(name, "/hosts.toml")
			if reg == defaultDir {
				reg = "any.example"
			}
			if _, err := hosts(reg); err != nil {
				t.Fatalf("containerd cannot read %s: %v\n%s", name, err, plan.Hosts[name])
			}
		}
		var v map[string]any
		if _, err := toml.Decode(plan.CRIRegistry("/x"), &v); err != nil {
			t.Fatalf("CRI section is not TOML: %v", err)
		}
	})
}
