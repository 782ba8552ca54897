package metrics

import (
	"fmt"
	"io"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Reading is one series of a kubelet's resource metrics at one moment:
// the cumulative CPU time and the memory working set.
type Reading struct {
	Time time.Time
	// CPU is cumulative core-seconds.
	CPU float64
	// Memory is the working set in bytes.
	Memory float64
}

// ContainerID names a container on a node.
type ContainerID struct{ Namespace, Pod, Container string }

// ContainerReading is a container's Reading and when it started, which
// tells a restart (whose counter began again) from a pause in updates.
type ContainerReading struct {
	Reading
	Started time.Time
}

// Scrape is what one read of a kubelet's /metrics/resource reported.
type Scrape struct {
	// Node is zero when the kubelet did not report the node's figures.
	Node       Reading
	Containers map[ContainerID]ContainerReading
}

// The series of the kubelet's /metrics/resource edgeos reads.
const (
	nodeCPU          = "node_cpu_usage_seconds_total"
	nodeMemory       = "node_memory_working_set_bytes"
	containerCPU     = "container_cpu_usage_seconds_total"
	containerMemory  = "container_memory_working_set_bytes"
	containerStarted = "container_start_time_seconds"
)

// Parse reads a kubelet's /metrics/resource in the Prometheus text format.
// A container counts only with both its CPU and memory figures, each
// stamped with the time the kubelet took it; a sample without a stamp
// (an endpoint that is not a kubelet's: kwok's) is taken as of scraped, as
// Prometheus takes it.
func Parse(r io.Reader, scraped time.Time) (Scrape, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Scrape{}, fmt.Errorf("kubelet resource metrics: %w", err)
	}
	out := Scrape{Containers: map[ContainerID]ContainerReading{}}
	var cpu, mem point
	for _, m := range families[nodeCPU].GetMetric() {
		cpu = pointOf(m, scraped)
	}
	for _, m := range families[nodeMemory].GetMetric() {
		mem = pointOf(m, scraped)
	}
	if cpu.valid() && mem.valid() {
		out.Node = combine(cpu, mem)
	}

	cpus := map[ContainerID]point{}
	for _, m := range families[containerCPU].GetMetric() {
		if id, ok := containerOf(m); ok {
			cpus[id] = pointOf(m, scraped)
		}
	}
	started := map[ContainerID]time.Time{}
	for _, m := range families[containerStarted].GetMetric() {
		if id, ok := containerOf(m); ok {
			started[id] = seconds(value(m))
		}
	}
	for _, m := range families[containerMemory].GetMetric() {
		id, ok := containerOf(m)
		if !ok {
			continue
		}
		cpu, mem := cpus[id], pointOf(m, scraped)
		if !cpu.valid() || !mem.valid() {
			continue
		}
		out.Containers[id] = ContainerReading{Reading: combine(cpu, mem), Started: started[id]}
	}
	return out, nil
}

// point is one sample: a value and the time the kubelet took it.
type point struct {
	v float64
	t time.Time
}

func pointOf(m *dto.Metric, scraped time.Time) point {
	p := point{v: value(m), t: scraped}
	if m.TimestampMs != nil {
		p.t = time.UnixMilli(m.GetTimestampMs())
	}
	return p
}

// valid: stamped, and a figure a usage can be made of
func (p point) valid() bool {
	return !p.t.IsZero() && p.v >= 0 && !math.IsNaN(p.v) && !math.IsInf(p.v, 0)
}

// combine makes a Reading of a CPU and a memory sample, stamped with the
// later: the kubelet takes both in one housekeeping pass.
func combine(cpu, mem point) Reading {
	t := cpu.t
	if mem.t.After(t) {
		t = mem.t
	}
	return Reading{Time: t, CPU: cpu.v, Memory: mem.v}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	default:
		return m.Untyped.GetValue()
	}
}

func containerOf(m *dto.Metric) (ContainerID, bool) {
	var id ContainerID
	for _, l := range m.Label {
		switch l.GetName() {
		case "namespace":
			id.Namespace = l.GetValue()
		case "pod":
			id.Pod = l.GetValue()
		case "container":
			id.Container = l.GetValue()
		}
	}
	return id, id.Namespace != "" && id.Pod != "" && id.Container != ""
}

func seconds(s float64) time.Time {
	if s <= 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return time.Time{}
	}
	whole, frac := math.Modf(s)
	return time.Unix(int64(whole), int64(frac*1e9))
}
