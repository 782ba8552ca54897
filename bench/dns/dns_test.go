// Package dns benchmarks edgeos's cluster DNS beside CoreDNS: both watch
// the same cluster (a harness server node with 100 Services and a headless
// Service with 20 endpoints), both run as processes of their own in the
// node's namespaces, and dnsload sends both the same questions. It is run
// by bench/dns.sh, once (-benchtime 1x), with $COREDNS_BIN built from
// bench/coredns, and writes a markdown table to $BENCH_TABLE when set.
package dns

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

const (
	services  = 100
	endpoints = 20
	edgeosIP  = "127.0.0.2"
	corednsIP = "127.0.0.3"
)

func BenchmarkDNS(b *testing.B) {
	coredns := os.Getenv("COREDNS_BIN")
	if coredns == "" {
		b.Fatal("COREDNS_BIN is not set: bench/dns.sh builds it from bench/coredns")
	}
	duration := 10 * time.Second
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		duration = d
	}
	for range b.N {
		c := harness.New(b)
		resolv := c.FakeUpstream(map[string]string{"external.test": "192.0.2.80"})
		nodes, cs := c.StartCluster(0, nil, "--resolv-conf", resolv, "--disable", "dns")
		srv := nodes[0]
		populate(b, cs)

		edgeosBin := benchkit.Build(b, "./edgeosdns")
		load := benchkit.Build(b, "./dnsload")
		echo := images.Program(b, "echo")
		dir := b.TempDir()
		corefile := filepath.Join(dir, "Corefile")
		benchkit.Write(b, corefile, fmt.Sprintf(`.:53 {
    bind %s
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . %s
    cache 30
    loop
}
`, corednsIP, srv.Kubeconfig, c.HostIP()))
		srv.Shell("ip addr add " + corednsIP + "/32 dev lo")
		srv.Background(edgeosBin, "-kubeconfig", srv.Kubeconfig, "-addr", edgeosIP, "-resolv-conf", resolv)
		srv.Background(coredns, "-conf", corefile)

		questions := filepath.Join(dir, "questions")
		benchkit.Write(b, questions, questionList())
		run := func(server string) map[string]float64 {
			// wait until the server knows the last Service, then measure
			last := fmt.Sprintf("svc-%d.bench.svc.cluster.local", services-1)
			deadline := time.Now().Add(2 * time.Minute)
			for !strings.Contains(srv.Shell(echo+" dns A "+last+". "+server).Stdout, "\tA\t") {
				if time.Now().After(deadline) {
					b.Fatalf("%s never answered for %s", server, last)
				}
				time.Sleep(time.Second)
			}
			r := srv.Shell(fmt.Sprintf("%s -server %s:53 -names %s -workers 8 -duration %s", load, server, questions, duration))
			return benchkit.Fields(b, "dnsload", r.Stdout, r.Stderr, 4)
		}
		e := run(edgeosIP)
		cd := run(corednsIP)
		em, cm := rss(b, srv, edgeosBin), rss(b, srv, coredns)
		b.ReportMetric(e["qps"], "edgeos-qps")
		b.ReportMetric(cd["qps"], "coredns-qps")
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			table := fmt.Sprintf("| server | queries/s | p50 (µs) | p99 (µs) | failed | RSS after (MB) | PSS after (MB) |\n|---|---|---|---|---|---|---|\n"+
				"| edgeos DNS (pkg/dns) | %.0f | %.0f | %.0f | %.0f | %.1f | %.1f |\n| CoreDNS %s (kubernetes, forward, cache) | %.0f | %.0f | %.0f | %.0f | %.1f | %.1f |\n\n"+
				"%d Services and a headless Service with %d endpoints; each run %s, 8 clients over UDP, a mix of A, SRV, NXDOMAIN and cached external questions (%d in all).\n",
				e["qps"], e["p50_us"], e["p99_us"], e["failed"], em[0], em[1],
				corednsVersion(coredns), cd["qps"], cd["p50_us"], cd["p99_us"], cd["failed"], cm[0], cm[1],
				services, endpoints, duration, strings.Count(questionList(), "\n"))
			benchkit.Write(b, path, table)
		}
		srv.Stop()
	}
}

// populate makes the Services the servers answer for.
func populate(b *testing.B, cs kubernetes.Interface) {
	b.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	svcs := cs.CoreV1().Services("bench")
	for i := range services {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "svc-" + strconv.Itoa(i)},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}
		if _, err := svcs.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	db := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
	}
	if _, err := svcs.Create(ctx, db, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-bench", Labels: map[string]string{discoveryv1.LabelServiceName: "db", discoveryv1.LabelManagedBy: "bench"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	ready := true
	for i := range endpoints {
		host := "db-" + strconv.Itoa(i)
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.42.9.%d", i+10)}, Hostname: &host, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		})
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("bench").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// questionList is the load's mix, one question per line.
func questionList() string {
	var sb strings.Builder
	for i := range services {
		fmt.Fprintf(&sb, "A svc-%d.bench.svc.cluster.local\n", i)
	}
	for i := range 10 {
		fmt.Fprintf(&sb, "SRV _http._tcp.svc-%d.bench.svc.cluster.local\n", i)
		fmt.Fprintf(&sb, "A missing-%d.bench.svc.cluster.local\n", i)
		fmt.Fprintf(&sb, "A db-%d.db.bench.svc.cluster.local\n", i)
		sb.WriteString("A external.test\n")
	}
	sb.WriteString("A db.bench.svc.cluster.local\n")
	return sb.String()
}

// rss is the RSS and PSS, in MB, of the process in the node's network
// namespace that runs bin.
func rss(b *testing.B, n *harness.Node, bin string) [2]float64 {
	b.Helper()
	want, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	for _, pid := range n.PIDs() {
		exe, err := os.Stat("/proc/" + pid + "/exe")
		if err != nil || !os.SameFile(exe, want) {
			continue
		}
		return [2]float64{kb(b, "/proc/"+pid+"/status", "VmRSS") / 1024, kb(b, "/proc/"+pid+"/smaps_rollup", "Pss") / 1024}
	}
	b.Fatalf("no process runs %s", bin)
	return [2]float64{}
}

// kb is one "Name: 123 kB" field of a /proc file; its absence is fatal.
func kb(b *testing.B, path, field string) float64 {
	b.Helper()
	v, ok := harness.ProcFields(b, path, "kB")[field]
	if !ok {
		b.Fatalf("%s has no %s", path, field)
	}
	return float64(v)
}

func corednsVersion(bin string) string {
	out, _ := exec.Command(bin, "-version").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "CoreDNS-") {
			return strings.TrimPrefix(line, "CoreDNS-")
		}
	}
	return "?"
}
