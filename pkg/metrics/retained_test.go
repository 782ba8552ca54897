package metrics

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkStoreRetained is the heap the Store keeps: every node's last
// two readings, its containers' and the pod index, at the sizes of a
// small cluster and of the simulated ones of bench/metrics.sh, read from
// kubelet-shaped text as the scraper reads it. What a scrape allocates
// and drops is the GC's, not counted here (bench/metrics.sh measures the
// whole process).
//
//	go test -run '^$' -bench StoreRetained ./pkg/metrics/
func BenchmarkStoreRetained(b *testing.B) {
	for _, size := range []struct{ nodes, pods int }{{2, 5}, {100, 10}, {300, 30}} {
		b.Run(fmt.Sprintf("%dnodes-%dpods", size.nodes, size.pods), func(b *testing.B) {
			for range b.N {
				before := heapInUse()
				scrapes := make([][2]Scrape, size.nodes)
				for n := range scrapes {
					for i := range 2 {
						sc, err := Parse(strings.NewReader(kubeletText(n, size.pods, time.Unix(1764500000+int64(15*i), 0))), time.Time{})
						if err != nil {
							b.Fatal(err)
						}
						scrapes[n][i] = sc
					}
				}
				s := NewStore()
				for i := range 2 {
					for n := range scrapes {
						s.Record(fmt.Sprintf("node-%d", n), scrapes[n][i])
					}
				}
				scrapes = nil
				after := heapInUse()
				runtime.KeepAlive(s)
				b.ReportMetric(float64(after-before)/1024, "KiB-retained")
			}
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// kubeletText is a node's /metrics/resource with pods of one container.
func kubeletText(node, pods int, at time.Time) string {
	ms := at.UnixMilli()
	var t strings.Builder
	t.WriteString("# TYPE container_cpu_usage_seconds_total counter\n")
	for p := range pods {
		fmt.Fprintf(&t, "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"app-%d-%d\"} %d %d\n", node, p, ms/1000, ms)
	}
	t.WriteString("# TYPE container_memory_working_set_bytes gauge\n")
	for p := range pods {
		fmt.Fprintf(&t, "container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"app-%d-%d\"} 2.097152e+07 %d\n", node, p, ms)
	}
	t.WriteString("# TYPE container_start_time_seconds gauge\n")
	for p := range pods {
		fmt.Fprintf(&t, "container_start_time_seconds{container=\"app\",namespace=\"default\",pod=\"app-%d-%d\"} 1.7644e+09 %d\n", node, p, ms)
	}
	fmt.Fprintf(&t, "# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %d %d\n", ms/100, ms)
	fmt.Fprintf(&t, "# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes 1e+09 %d\n", ms)
	return t.String()
}
