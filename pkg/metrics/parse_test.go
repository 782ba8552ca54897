package metrics

import (
	"strings"
	"testing"
	"time"
)

// as a kubelet serves it, trimmed to two containers
const kubeletResource = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="coredns",namespace="kube-system",pod="coredns-abc"} 12.5 1764500000000
container_cpu_usage_seconds_total{container="app",namespace="demo",pod="web-1"} 3 1764500001000
container_cpu_usage_seconds_total{container="lonely",namespace="demo",pod="web-1"} 3 1764500001000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="coredns-abc"} 1.5e+07 1764500000500
container_memory_working_set_bytes{container="app",namespace="demo",pod="web-1"} 4096 1764500001000
container_memory_working_set_bytes{container="nocpu",namespace="demo",pod="web-1"} 4096 1764500001000
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="coredns",namespace="kube-system",pod="coredns-abc"} 1.7644999e+09 1764500000000
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 1234.5 1764500002000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1e+09 1764500002000
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
`

func TestParse(t *testing.T) {
	sc, err := Parse(strings.NewReader(kubeletResource), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Reading{Time: time.UnixMilli(1764500002000), CPU: 1234.5, Memory: 1e9}); !sc.Node.Time.Equal(want.Time) || sc.Node.CPU != want.CPU || sc.Node.Memory != want.Memory {
		t.Errorf("node: %+v, want %+v", sc.Node, want)
	}
	dns := sc.Containers[ContainerID{"kube-system", "coredns-abc", "coredns"}]
	if dns.CPU != 12.5 || dns.Memory != 1.5e7 || !dns.Time.Equal(time.UnixMilli(1764500000500)) {
		t.Errorf("coredns: %+v (want the later of the two stamps)", dns)
	}
	if !dns.Started.Equal(time.Unix(1764499900, 0)) {
		t.Errorf("coredns started %s", dns.Started)
	}
	if _, ok := sc.Containers[ContainerID{"demo", "web-1", "app"}]; !ok {
		t.Error("app missing")
	}
	// a container with one of its two figures does not count
	if len(sc.Containers) != 2 {
		t.Errorf("containers: %v", sc.Containers)
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	for _, in := range []string{"node_cpu_usage_seconds_total{ 1", "# TYPE x counter\nx{a=\"b\"} notanumber\n"} {
		if _, err := Parse(strings.NewReader(in), time.Now()); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestParseWithoutNode(t *testing.T) {
	// a kubelet that could not read the node's figures leaves them out
	sc, err := Parse(strings.NewReader("resource_scrape_error 1\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Node.Time.IsZero() || len(sc.Containers) != 0 {
		t.Errorf("%+v", sc)
	}
}

// kwok serves its simulated kubelets' figures without timestamps: they
// are as of the scrape.
func TestParseUnstamped(t *testing.T) {
	in := `# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="default",pod="p"} 0.97
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="default",pod="p"} 2.097152e+07
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 12.5
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1e+09
`
	at := time.Unix(1764500000, 0)
	sc, err := Parse(strings.NewReader(in), at)
	if err != nil {
		t.Fatal(err)
	}
	c := sc.Containers[ContainerID{Namespace: "default", Pod: "p", Container: "app"}]
	if !sc.Node.Time.Equal(at) || sc.Node.CPU != 12.5 || !c.Time.Equal(at) || c.Memory != 20971520 {
		t.Errorf("node %+v, container %+v", sc.Node, c)
	}
}
