package scale

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestForPods(t *testing.T) {
	for _, tc := range []struct {
		pods, namespaces, replicas, total int
	}{
		{9000, 30, 30, 9000},
		{30000, 100, 30, 30000},
		{500, 2, 30, 600},
		{100, 1, 10, 100},
		{5, 1, 1, 10},
	} {
		w := ForPods(tc.pods)
		if w.Namespaces != tc.namespaces || w.Replicas != tc.replicas || w.Pods() != tc.total {
			t.Errorf("ForPods(%d) = %+v (%d pods), want %d namespaces of %d-pod Deployments, %d pods", tc.pods, w, w.Pods(), tc.namespaces, tc.replicas, tc.total)
		}
	}
}

// TestChurnPlan: the plan's rates hold, every object and Deployment is
// reached, and a scaled Deployment comes back to its size.
func TestChurnPlan(t *testing.T) {
	w := Workload{Namespaces: 3, DeploymentsPerNamespace: 2, Replicas: 30, ObjectsPerNamespace: 2}
	c := DefaultChurn(time.Minute)
	kinds := map[string]int{}
	objects := map[string]bool{}
	replicas := map[string]int{}
	for tick := range 60 {
		for _, o := range c.plan(w, tick) {
			kinds[o.kind]++
			switch o.kind {
			case "configmap", "secret":
				objects[o.kind+" "+o.namespace+"/"+o.name] = true
			case "scale":
				replicas[o.namespace+"/"+o.name] = o.value
			}
		}
	}
	want := map[string]int{"configmap": 60, "secret": 60, "scale": 30, "rollout": 6}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s: %d in a minute, want %d", k, kinds[k], n)
		}
	}
	if len(objects) != 2*w.Namespaces*w.ObjectsPerNamespace {
		t.Errorf("updates reached %d objects, want every one of %d: %v", len(objects), 2*w.Namespaces*w.ObjectsPerNamespace, objects)
	}
	// 30 scales over 6 Deployments: five rounds, the last one up
	if len(replicas) != 6 {
		t.Errorf("scales reached %v, want all 6 Deployments", replicas)
	}
	for d, r := range replicas {
		if r != w.Replicas+c.ScaleBy {
			t.Errorf("%s last scaled to %d, want %d after an odd number of rounds", d, r, w.Replicas+c.ScaleBy)
		}
	}
	if ops := c.plan(w, 12); len(ops) != 3 || ops[2].kind != "scale" || ops[2].name != Deployment(0) || ops[2].value != w.Replicas {
		t.Errorf("tick 12 (the second round of scales) = %+v, want the first Deployment back to %d", ops, w.Replicas)
	}
}

const sample = `# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="0.1"} 8
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="1"} 10
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="+Inf"} 10
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 1.5
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 10
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1",le="0.1"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1",le="1"} 0
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1",le="2"} 4
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1",le="+Inf"} 4
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 8
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 4
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="PATCH",version="v1",le="0.1"} 1000
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="PATCH",version="v1",le="1"} 1000
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="PATCH",version="v1",le="2"} 1000
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="PATCH",version="v1",le="+Inf"} 1000
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="PATCH",version="v1"} 8
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="PATCH",version="v1"} 1000
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1",le="+Inf"} 3
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 900
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 3
`

// TestRequestSLOs: Prometheus's parser reads the histogram, WATCH is left
// out, the delta is taken, and one slow resource fails its verb's SLO
// although the verb's p99 over all resources is fine.
func TestRequestSLOs(t *testing.T) {
	r, err := ParseRequests(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r[RequestKey{"WATCH", "namespace", "pods"}]; ok || len(r) != 3 {
		t.Fatalf("parsed %v, want LIST pods, PATCH pods/status and configmaps only", r)
	}
	list := r[RequestKey{"LIST", "namespace", "pods"}]
	// rank 5 of 10 lies in the first bucket, 8 of which hold 0-0.1 s
	if got := list.Quantile(0.5); math.Abs(got-0.0625) > 1e-9 {
		t.Errorf("p50 = %v, want 0.0625", got)
	}
	if got := list.Quantile(0.99); math.Abs(got-(0.1+0.9*(9.9-8)/2)) > 1e-9 {
		t.Errorf("p99 = %v", got)
	}
	before := Requests{RequestKey{"LIST", "namespace", "pods"}: {Bounds: list.Bounds, Counts: []uint64{8, 8, 8}}}
	if d := r.Since(before)[RequestKey{"LIST", "namespace", "pods"}]; d.Count() != 2 || d.Quantile(0.5) <= 0.1 {
		t.Errorf("since: %+v, want the 2 slow lists", d)
	}

	var patch SLO
	for _, s := range r.SLOs() {
		if s.Verb == "PATCH" {
			patch = s
		}
		if s.Verb == "LIST" && (!s.Met() || s.Limit != 5) {
			t.Errorf("LIST namespace: %+v, want met within 5 s", s)
		}
	}
	// 4 slow patches among 1004: p99 over all is within the SLO;
	// pods/status alone is not
	if patch.Count != 1004 || patch.P99 > 1 || patch.WorstResource != "pods/status" || patch.Met() {
		t.Errorf("PATCH: %+v, want 1004 calls, pods/status the worst, SLO missed", patch)
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	if Percentile(d, 50) != 50*time.Millisecond || Percentile(d, 99) != 99*time.Millisecond || Percentile(d, 100) != 100*time.Millisecond {
		t.Errorf("p50 %v p99 %v p100 %v", Percentile(d, 50), Percentile(d, 99), Percentile(d, 100))
	}
	if Percentile(nil, 99) != 0 || Percentile(d[:1], 99) != time.Millisecond {
		t.Error("empty or single")
	}
}
