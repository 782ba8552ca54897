package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// validServer is a server config as the flags' defaults leave it, with a
// node name and IP given so that nothing depends on this host.
func validServer() *Server {
	return &Server{
		DataDir: "/var/lib/edgeos", WriteKubeconfigMode: "0600", HTTPSListenPort: 6443, BindAddress: "0.0.0.0",
		NodeName: "edge-1", NodeIPs: []string{"192.0.2.10"},
		ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16", ClusterDNS: "10.43.0.10", ClusterDomain: "cluster.local",
		Node:                Node{CNI: CNIEdgeos, PageOutAfter: time.Minute, Labels: []string{"a=b"}},
		CertificateLifetime: 365 * 24 * time.Hour,
		SnapshotSchedule:    "0 */12 * * *", SnapshotRetention: 5,
		IngressHTTPPort: 80, IngressHTTPSPort: 443,
		MetricsResolution: 15 * time.Second,
		LogFormat:         "text",
	}
}

func withDatastoreTimeout(c *Server) *Server {
	c.Datastore.ConnectTimeout = 30 * time.Second
	return c
}

func TestServerValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Server)
		want   string // "" for valid
	}{
		{"defaults", func(*Server) {}, ""},
		{"no data dir", func(c *Server) { c.DataDir = "" }, "--data-dir"},
		{"port", func(c *Server) { c.HTTPSListenPort = 70000 }, "--https-listen-port 70000"},
		{"bind address", func(c *Server) { c.BindAddress = "eth0" }, "--bind-address \"eth0\""},
		{"mode not octal", func(c *Server) { c.WriteKubeconfigMode = "0648" }, "--write-kubeconfig-mode \"0648\""},
		{"mode too wide", func(c *Server) { c.WriteKubeconfigMode = "17777" }, "--write-kubeconfig-mode \"17777\""},
		{"advertise address", func(c *Server) { c.AdvertiseAddress = "x" }, "--advertise-address \"x\""},
		{"node ip", func(c *Server) { c.NodeIPs = []string{"192.0.2.1", "nope"} }, "--node-ip \"nope\""},
		{"cluster cidr", func(c *Server) { c.ClusterCIDR = "10.42.0.0" }, "--cluster-cidr \"10.42.0.0\" is not a CIDR"},
		{"overlap", func(c *Server) { c.ServiceCIDR = "10.42.128.0/17"; c.ClusterDNS = "10.42.128.10" }, "overlap"},
		{"dns outside", func(c *Server) { c.ClusterDNS = "10.99.0.10" }, "--cluster-dns 10.99.0.10 is outside"},
		{"domain", func(c *Server) { c.ClusterDomain = "cluster.local." }, "--cluster-domain"},
		{"disable", func(c *Server) { c.Disable = []string{"dns", "traefik"} }, "--disable \"traefik\""},
		{"token and file", func(c *Server) { c.Token, c.TokenFile = "a", "/b" }, "mutually exclusive"},
		{"datastore timeout", func(c *Server) { c.Datastore.ConnectTimeout = 0 }, "--datastore-connect-timeout"},
		{"certificate lifetime", func(c *Server) { c.CertificateLifetime = 30 * time.Second }, "--certificate-lifetime 30s"},
		{"certificate outlives CA", func(c *Server) { c.CertificateLifetime = 20 * 365 * 24 * time.Hour }, "--certificate-lifetime 175200h"},
		{"snapshot schedule", func(c *Server) { c.SnapshotSchedule = "twice a day" }, "--snapshot-schedule"},
		{"snapshot retention", func(c *Server) { c.SnapshotRetention = 0 }, "--snapshot-retention 0"},
		{"metrics resolution", func(c *Server) { c.MetricsResolution = time.Second }, "--metrics-resolution 1s is shorter than 5s"},
		{"metrics off", func(c *Server) { c.Disable = []string{"metrics"} }, ""},
		{"json logs, verbose", func(c *Server) { c.LogFormat, c.Verbosity = "json", 4 }, ""},
		{"log format", func(c *Server) { c.LogFormat = "logfmt" }, "--log-format \"logfmt\" is not one of text, json"},
		{"verbosity", func(c *Server) { c.Verbosity = -1 }, "-v -1 is not a verbosity"},
		{"manifests dir", func(c *Server) { c.ManifestsDir = "manifests" }, "--manifests-dir \"manifests\" is not an absolute path"},
		{"snapshots off", func(c *Server) { c.DisableSnapshots, c.SnapshotSchedule = true, "" }, ""},
		{"reset without a snapshot", func(c *Server) { c.ClusterReset = true }, "--cluster-reset and --restore-path"},
		{"reset of an external datastore", func(c *Server) {
			c.ClusterReset, c.RestorePath, c.Datastore.Endpoint = true, "/s", "postgres://db"
		}, "external one"},
		{"apiserver arg", func(c *Server) { c.APIServerArgs = []string{"v"} }, "--kube-apiserver-arg"},
		{"node option", func(c *Server) { c.Node.CNI = "flannel" }, "--cni \"flannel\""},
		{"storage path", func(c *Server) { c.Node.LocalStoragePath = "rel" }, "--local-storage-path"},
		{"pageout", func(c *Server) { c.Node.PageOutAfter = -time.Second }, "--pageout-after"},
		{"ingress port", func(c *Server) { c.IngressHTTPPort = 0 }, "--ingress-http-port 0 is not a port"},
		{"ingress on the API port", func(c *Server) { c.IngressHTTPSPort = 6443 }, "--ingress-https-port 6443 is the API's"},
		{"ingress ports the same", func(c *Server) { c.IngressHTTPPort = 443 }, "are both 443"},
		{"gateway addresses without the Gateway API", func(c *Server) { c.GatewayAddresses = "192.168.1.240/28" }, "it needs --gateway-api"},
		{"gateway addresses not a pool", func(c *Server) { c.GatewayAPI, c.GatewayAddresses = true, "192.168.1.240/24" }, "--gateway-addresses: \"192.168.1.240/24\" has host bits set"},
		{"gateway addresses of the pods", func(c *Server) { c.GatewayAPI, c.GatewayAddresses = true, "10.42.7.1-10.42.7.9" }, "overlaps --cluster-cidr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withDatastoreTimeout(validServer())
			tc.change(c)
			before := *c
			before.Node.Labels = append([]string(nil), c.Node.Labels...)
			err := c.Validate()
			if !reflect.DeepEqual(*c, before) {
				t.Errorf("Validate changed the config:\n%+v\nwas\n%+v", *c, before)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestServerValidateReportsEveryError(t *testing.T) {
	c := withDatastoreTimeout(validServer())
	c.BindAddress, c.ClusterDomain, c.Node.CNI = "x", "", "x"
	err := c.Validate()
	for _, flag := range []string{"--bind-address", "--cluster-domain", "--cni"} {
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("Validate: %v, want an error naming %s", err, flag)
		}
	}
}

func TestServerComplete(t *testing.T) {
	c := withDatastoreTimeout(validServer())
	c.WriteKubeconfigMode = "0640"
	c.Token = "  secret \n"
	before := *c
	done, err := c.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*c, before) {
		t.Errorf("Complete changed the flags:\n%+v\nwas\n%+v", *c, before)
	}
	if done.NodeName != "edge-1" || !reflect.DeepEqual(done.NodeIPs, []string{"192.0.2.10"}) {
		t.Errorf("node %s %v, want the given edge-1 [192.0.2.10]", done.NodeName, done.NodeIPs)
	}
	if done.AdvertiseAddress != "192.0.2.10" {
		t.Errorf("advertise address %q, want the first node IP", done.AdvertiseAddress)
	}
	if done.Secret != "secret" {
		t.Errorf("secret %q, want the trimmed --token", done.Secret)
	}
	if done.KubeconfigMode != 0o640 {
		t.Errorf("kubeconfig mode %o, want 640", done.KubeconfigMode)
	}
	if done.ManifestsDir != "/var/lib/edgeos/server/manifests" {
		t.Errorf("auto-deploy directory %q, want the data dir's server/manifests", done.ManifestsDir)
	}
	// the completed config shares nothing the flags can still change
	c.NodeIPs[0], c.Node.Labels[0] = "192.0.2.99", "changed=yes"
	if done.NodeIPs[0] != "192.0.2.10" || done.Node.Labels[0] != "a=b" {
		t.Errorf("the completed config follows later changes of the flags: %v %v", done.NodeIPs, done.Node.Labels)
	}

	c = withDatastoreTimeout(validServer())
	c.AdvertiseAddress, c.WriteKubeconfigMode = "198.51.100.1", ""
	c.GatewayAPI, c.GatewayAddresses = true, "192.0.2.200-192.0.2.210, 192.0.2.240/30"
	if done, err = c.Complete(); err != nil {
		t.Fatal(err)
	}
	if done.AdvertiseAddress != "198.51.100.1" || done.KubeconfigMode != 0o600 {
		t.Errorf("advertise %s mode %o, want the given address and 600", done.AdvertiseAddress, done.KubeconfigMode)
	}
	if got := done.GatewayPool.String(); got != "192.0.2.200-192.0.2.210,192.0.2.240-192.0.2.243" {
		t.Errorf("the Gateways' pool %q", got)
	}

	c.ClusterDNS = "nope"
	if _, err := c.Complete(); err == nil || !strings.Contains(err.Error(), "--cluster-dns") {
		t.Errorf("Complete of an invalid config: %v, want Validate's error", err)
	}
}

func TestServerCompleteFromHost(t *testing.T) {
	c := withDatastoreTimeout(validServer())
	c.NodeName, c.NodeIPs = "", nil
	done, err := c.Complete()
	host, _ := os.Hostname()
	switch ip := HostIP(); {
	case ip == nil:
		if err == nil || !strings.Contains(err.Error(), "--node-ip") {
			t.Errorf("on a host without an address: %v, want an error asking for --node-ip", err)
		}
	case err != nil:
		t.Fatal(err)
	case done.NodeName != strings.ToLower(host) || !reflect.DeepEqual(done.NodeIPs, []string{ip.String()}):
		t.Errorf("node %s %v, want this host's %s [%s]", done.NodeName, done.NodeIPs, strings.ToLower(host), ip)
	case done.AdvertiseAddress != ip.String():
		t.Errorf("advertise address %s, want %s", done.AdvertiseAddress, ip)
	}
	if c.NodeName != "" || c.NodeIPs != nil {
		t.Errorf("Complete filled the flags: %q %v", c.NodeName, c.NodeIPs)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	good, empty := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	if err := os.WriteFile(good, []byte("K10abc::server:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := withDatastoreTimeout(validServer())
	c.TokenFile = good
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	done, err := c.Complete()
	if err != nil || done.Secret != "K10abc::server:s3cret" {
		t.Errorf("server --token-file: %q, %v", done.Secret, err)
	}
	a := validAgent()
	a.Token, a.TokenFile = "", good
	agent, err := a.Complete()
	if err != nil || agent.Token != "K10abc::server:s3cret" {
		t.Errorf("agent --token-file: %+v, %v", agent, err)
	}
	if a.Token != "" {
		t.Errorf("Complete wrote the token into the flags: %q", a.Token)
	}
	for _, tc := range []struct{ path, want string }{
		{empty, "is empty"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		c.TokenFile = tc.path
		if err := c.Validate(); err != nil {
			t.Errorf("Validate read %s: %v", tc.path, err)
		}
		if _, err := c.Complete(); err == nil || !strings.Contains(err.Error(), "--token-file") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("server --token-file %s: %v, want %q", tc.path, err, tc.want)
		}
		a.TokenFile = tc.path
		if _, err := a.Complete(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("agent --token-file %s: %v, want %q", tc.path, err, tc.want)
		}
	}
}

func validAgent() *Agent {
	return &Agent{
		Server: "https://192.0.2.1:6443", Token: "K10abc::server:s3cret", DataDir: "/var/lib/edgeos",
		NodeName: "edge-2", NodeIPs: []string{"192.0.2.20"}, Node: Node{CNI: CNIEdgeos},
		MetricsBindAddress: "127.0.0.1:10249", LogFormat: "text", LBServerPort: 6444,
	}
}

func TestAgent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(a *Agent)
		want   string
	}{
		{"valid", func(*Agent) {}, ""},
		{"no server", func(a *Agent) { a.Server = "" }, "--server"},
		{"http server", func(a *Agent) { a.Server = "http://192.0.2.1:6443" }, "--server"},
		{"no token", func(a *Agent) { a.Token = "" }, "exactly one of --token and --token-file"},
		{"both tokens", func(a *Agent) { a.TokenFile = "/t" }, "exactly one of --token and --token-file"},
		{"node ip", func(a *Agent) { a.NodeIPs = []string{"::1::"} }, "--node-ip"},
		{"node option", func(a *Agent) { a.Node.ExternalIP = "x" }, "--node-external-ip"},
		{"agent log format", func(a *Agent) { a.LogFormat = "" }, "--log-format \"\""},
		{"metrics endpoint everywhere", func(a *Agent) { a.MetricsBindAddress = "[::]:10249" }, ""},
		{"no metrics endpoint", func(a *Agent) { a.MetricsBindAddress = "" }, "--metrics-bind-address \"\" is not IP:PORT"},
		{"metrics endpoint without port", func(a *Agent) { a.MetricsBindAddress = "127.0.0.1" }, "--metrics-bind-address \"127.0.0.1\" is not IP:PORT"},
		{"metrics endpoint by name", func(a *Agent) { a.MetricsBindAddress = "localhost:10249" }, "--metrics-bind-address"},
		{"no load balancer port", func(a *Agent) { a.LBServerPort = 0 }, "--lb-server-port 0 is not a port"},
		{"load balancer port too high", func(a *Agent) { a.LBServerPort = 70000 }, "--lb-server-port 70000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := validAgent()
			tc.change(a)
			before := *a
			done, err := a.Complete()
			if !reflect.DeepEqual(*a, before) {
				t.Errorf("Complete changed the flags")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if done.NodeName != "edge-2" || done.NodeIPs[0] != "192.0.2.20" || done.Token != a.Token || done.ServerAddress != "192.0.2.1:6443" {
					t.Errorf("completed %+v", *done.completedAgent)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Complete: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestServerAddress(t *testing.T) {
	for server, want := range map[string]string{
		"https://192.0.2.1:6443":     "192.0.2.1:6443",
		"https://edge.example":       "edge.example:443",
		"https://[2001:db8::1]:6443": "[2001:db8::1]:6443",
		"https://[2001:db8::1]/":     "[2001:db8::1]:443",
	} {
		a := validAgent()
		a.Server = server
		done, err := a.Complete()
		if err != nil {
			t.Errorf("--server %s: %v", server, err)
		} else if done.ServerAddress != want {
			t.Errorf("--server %s: ServerAddress %q, want %q", server, done.ServerAddress, want)
		}
	}
}

// --private-registry: read by Complete for the node's containerd; a
// malformed file refuses the start with its line; a server without a
// node does not read it.
func TestPrivateRegistry(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("mirrors:\n  docker.io:\n    endpoint: [\"https://mirror.example\"]\n"), 0o600)
	os.WriteFile(bad, []byte("mirrors:\n  docker.io:\n    endpoint: [\"ftp://mirror.example\"]\n"), 0o600)

	c := withDatastoreTimeout(validServer())
	c.Node.PrivateRegistry = good
	out, err := c.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Registries.Mirrors["docker.io"]; !ok {
		t.Errorf("no mirror for docker.io in %+v", out.Registries)
	}
	c.Node.PrivateRegistry = bad
	if _, err := c.Complete(); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("malformed registries.yaml: %v, want an error naming line 3", err)
	}
	c.DisableAgent = true
	if _, err := c.Complete(); err != nil {
		t.Errorf("a server without a node read registries.yaml: %v", err)
	}

	a := validAgent()
	a.Node.PrivateRegistry = filepath.Join(dir, "missing.yaml")
	if _, err := a.Complete(); err == nil || !strings.Contains(err.Error(), "--private-registry") {
		t.Errorf("missing registries.yaml given by name: %v", err)
	}
	a.Node.PrivateRegistry = "registries.yaml"
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative --private-registry: %v", err)
	}
}

// --log-forward and --log-forward-buffer: checked by Validate, completed
// into the endpoint and the cap; the password is never in an error.
func TestLogForward(t *testing.T) {
	for _, tc := range []struct {
		url, buffer string
		want        string // error; "" valid
		bytes       int64
	}{
		{"", "nonsense", "", 0}, // off: the buffer is not read
		{"http://loki:3100/loki/api/v1/push", "64Mi", "", 64 << 20},
		{"https://collector:4318/v1/logs", "100M", "", 100e6},
		{"https://collector:4318/v1/logs", "16384", "", 16384},
		{"https://collector:4318/v1/logs", "1Ki", "--log-forward-buffer \"1Ki\"", 0},
		{"https://collector:4318/v1/logs", "-5Mi", "--log-forward-buffer", 0},
		{"https://collector:4318/v1/logs", "9999999999Gi", "--log-forward-buffer", 0},
		{"https://collector:4318/v1/logs", "", "--log-forward-buffer", 0},
		{"https://u:hunter2@collector:4318/", "64Mi", "--log-forward", 0},
	} {
		a := validAgent()
		a.Node.LogForward, a.Node.LogForwardBuffer = tc.url, tc.buffer
		done, err := a.Complete()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.url, tc.buffer, err)
		case tc.want == "" && (done.LogForward.On() != (tc.url != "") || done.LogForward.BufferBytes != tc.bytes):
			t.Errorf("%s %s: completed %+v", tc.url, tc.buffer, done.LogForward)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: %v, want %q", tc.url, tc.buffer, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// a server without a node ships its own lines
	c := withDatastoreTimeout(validServer())
	c.DisableAgent = true
	c.Node.LogForward, c.Node.LogForwardBuffer = "http://loki:3100/loki/api/v1/push", "1Mi"
	done, err := c.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if !done.LogForward.On() || done.LogForward.BufferBytes != 1<<20 {
		t.Errorf("server without a node: %+v", done.LogForward)
	}
}
