// Package ingress benchmarks edgeos's ingress proxy beside nginx, HAProxy
// (Debian's packages) and Traefik (built from its module, when
// $TRAEFIK_BIN is given): on a harness server node with two echo pods,
// each proxy sends to the same two pod addresses, and httpload, in the same
// node, sends each the same requests at a fixed concurrency. It is run by
// bench/ingress.sh, once (-benchtime 1x), and writes a markdown table to
// $BENCH_TABLE when set.
package ingress

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

// peer is a proxy measured beside edgeos's.
type peer struct {
	name, bin, port string
	// args start it in the foreground, given its config directory
	args func(dir string) []string
	// config writes its configuration for the node address and backends
	config func(dir, addr string, backends []string) error
	// exes are the programs whose processes' memory counts
	exes []string
}

func BenchmarkIngress(b *testing.B) {
	duration := envDuration(b, "BENCH_DURATION", 10*time.Second)
	clients := 32
	if s := os.Getenv("BENCH_CLIENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		clients = n
	}
	for range b.N {
		c := harness.New(b)
		nodes, cs := c.StartCluster(0, map[string][]byte{"echo.tar": images.Build(b, "echo")})
		srv := nodes[0]
		if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(b), "bench/ingress/bench.yaml")); r.ExitCode != 0 {
			b.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
		}
		backends := backendsOf(b, cs)
		load := benchkit.Build(b, "./httpload")
		dir := b.TempDir()

		run := func(name, url string) map[string]float64 {
			// answered once before it counts: routes and pools are warm
			deadline := time.Now().Add(2 * time.Minute)
			for !strings.Contains(srv.Shell(fmt.Sprintf("%s -url %s -host bench.example -clients 1 -duration 1s", load, url)).Stdout, "failed 0") {
				if time.Now().After(deadline) {
					b.Fatalf("%s never answered at %s", name, url)
				}
				time.Sleep(time.Second)
			}
			r := srv.Shell(fmt.Sprintf("%s -url %s -host bench.example -clients %d -duration %s", load, url, clients, duration))
			return benchkit.Fields(b, "httpload", r.Stdout, r.Stderr, 4)
		}
		type row struct {
			name    string
			m       map[string]float64
			pss     float64
			version string
		}
		var profiled sync.WaitGroup
		if out := os.Getenv("BENCH_PROFILE_OUT"); out != "" {
			// the edgeos process's CPU during most of its load, through
			// the kubelet's profiling handler (the same process)
			profiled.Go(func() { profile(b, cs, srv.Name, duration*8/10, out) })
		}
		rows := []row{{name: "edgeos (pkg/ingress, in the edgeos process)", m: run("edgeos", "http://"+net.JoinHostPort(srv.IP, "80")+"/")}}
		profiled.Wait()
		for _, p := range peers() {
			if p.bin == "" {
				continue
			}
			pdir := filepath.Join(dir, p.name)
			if err := os.MkdirAll(pdir, 0o755); err != nil {
				b.Fatal(err)
			}
			addr := net.JoinHostPort(srv.IP, p.port)
			if err := p.config(pdir, addr, backends); err != nil {
				b.Fatal(err)
			}
			srv.Background(append([]string{p.bin}, p.args(pdir)...)...)
			m := run(p.name, "http://"+addr+"/")
			rows = append(rows, row{name: p.name, m: m, pss: pss(b, srv, p.exes), version: version(p.bin)})
		}
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			var sb strings.Builder
			sb.WriteString("| proxy | requests/s | p50 (µs) | p99 (µs) | failed | requests/s ÷ nginx's | PSS after the load (MB) |\n|---|---|---|---|---|---|---|\n")
			nginx := 0.0
			for _, r := range rows {
				if strings.HasPrefix(r.name, "nginx") {
					nginx = r.m["rps"]
				}
			}
			for _, r := range rows {
				ratio, mem := "–", "see the footprint"
				if nginx > 0 {
					ratio = fmt.Sprintf("%.2f", r.m["rps"]/nginx)
				}
				if r.pss > 0 {
					mem = fmt.Sprintf("%.1f", r.pss)
				}
				name := r.name
				if r.version != "" {
					name += " " + r.version
				}
				fmt.Fprintf(&sb, "| %s | %.0f | %.0f | %.0f | %.0f | %s | %s |\n", name, r.m["rps"], r.m["p50_us"], r.m["p99_us"], r.m["failed"], ratio, mem)
			}
			fmt.Fprintf(&sb, "\n%d clients, each on one kept-alive connection, for %s per proxy, GET of a ~60-byte answer from two echo pods; the load runs in the same node. edgeos's proxy shares its process with the whole server (control plane, kubelet, containerd's supervisor).\n", clients, duration)
			benchkit.Write(b, path, sb.String())
		}
		srv.Stop()
	}
}

func peers() []peer {
	return []peer{
		{
			name: "nginx", bin: lookPath("nginx"), port: "8081", exes: []string{lookPath("nginx")},
			args: func(dir string) []string {
				return []string{"-e", "stderr", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")}
			},
			config: func(dir, addr string, backends []string) error {
				var servers strings.Builder
				for _, be := range backends {
					fmt.Fprintf(&servers, "    server %s;\n", be)
				}
				conf := fmt.Sprintf(`daemon off;
user root;
worker_processes auto;
pid %s/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  upstream web {
%s    keepalive 128;
  }
  server {
    listen %s;
    server_name bench.example;
    location / {
      proxy_pass http://web;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`, dir, servers.String(), addr)
				return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
			},
		},
		{
			name: "HAProxy", bin: lookPath("haproxy"), port: "8082", exes: []string{lookPath("haproxy")},
			args: func(dir string) []string { return []string{"-db", "-f", filepath.Join(dir, "haproxy.cfg")} },
			config: func(dir, addr string, backends []string) error {
				var servers strings.Builder
				for i, be := range backends {
					fmt.Fprintf(&servers, "  server s%d %s\n", i, be)
				}
				conf := fmt.Sprintf(`global
  log stderr format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option forwardfor
  http-reuse safe
frontend web
  bind %s
  default_backend web
backend web
  balance roundrobin
%s`, addr, servers.String())
				return os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(conf), 0o644)
			},
		},
		{
			name: "Traefik", bin: os.Getenv("TRAEFIK_BIN"), port: "8083", exes: []string{os.Getenv("TRAEFIK_BIN")},
			args: func(dir string) []string {
				return []string{"--configFile=" + filepath.Join(dir, "traefik.yaml")}
			},
			config: func(dir, addr string, backends []string) error {
				var servers strings.Builder
				for _, be := range backends {
					fmt.Fprintf(&servers, "          - url: http://%s\n", be)
				}
				static := fmt.Sprintf("entryPoints:\n  web:\n    address: %q\nproviders:\n  file:\n    filename: %s\nlog:\n  level: ERROR\n", addr, filepath.Join(dir, "dynamic.yaml"))
				dynamic := fmt.Sprintf("http:\n  routers:\n    web:\n      rule: Host(`bench.example`)\n      service: web\n      entryPoints: [web]\n  services:\n    web:\n      loadBalancer:\n        servers:\n%s", servers.String())
				if err := os.WriteFile(filepath.Join(dir, "traefik.yaml"), []byte(static), 0o644); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(dir, "dynamic.yaml"), []byte(dynamic), 0o644)
			},
		},
	}
}

// profile writes a CPU profile of the node's edgeos process to out.
func profile(b *testing.B, cs kubernetes.Interface, node string, d time.Duration, out string) {
	// the warm-up request comes first
	time.Sleep(2 * time.Second)
	data, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy/debug/pprof/profile").
		Param("seconds", strconv.Itoa(int(d.Seconds()))).Timeout(d + time.Minute).DoRaw(context.Background())
	if err != nil {
		b.Errorf("profile: %v", err)
		return
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		b.Error(err)
	}
}

// backendsOf waits for the two echo pods and returns their addresses.
func backendsOf(b *testing.B, cs kubernetes.Interface) []string {
	b.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		var out []string
		if err == nil {
			for _, p := range l.Items {
				if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
					out = append(out, net.JoinHostPort(p.Status.PodIP, "8080"))
				}
			}
		}
		if len(out) == 2 {
			return out
		}
		if time.Now().After(deadline) {
			b.Fatalf("the two echo pods never ran: %v %v", out, err)
		}
		time.Sleep(time.Second)
	}
}

// pss is the summed PSS, in MB, of the node's processes that run one of exes.
func pss(b *testing.B, n *harness.Node, exes []string) float64 {
	b.Helper()
	total := 0.0
	for _, pid := range n.PIDs() {
		exe, err := os.Stat("/proc/" + pid + "/exe")
		if err != nil {
			continue
		}
		for _, want := range exes {
			if w, err := os.Stat(want); err == nil && os.SameFile(exe, w) {
				total += float64(harness.ProcFields(b, "/proc/"+pid+"/smaps_rollup", "kB")["Pss"]) / 1024
			}
		}
	}
	if total == 0 {
		b.Fatalf("no process runs %v", exes)
	}
	return total
}

func version(bin string) string {
	for _, args := range [][]string{{"-v"}, {"version"}} {
		out, _ := exec.Command(bin, args...).CombinedOutput()
		for _, f := range strings.Fields(string(out)) {
			if v, ok := strings.CutPrefix(f, "nginx/"); ok {
				return v
			}
			if len(f) > 1 && (f[0] >= '0' && f[0] <= '9' || f[0] == 'v') && strings.Count(f, ".") >= 2 {
				return strings.TrimPrefix(f, "v")
			}
		}
	}
	return ""
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return d
}

func repoRoot(b *testing.B) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		b.Fatal(err)
	}
	return root
}
