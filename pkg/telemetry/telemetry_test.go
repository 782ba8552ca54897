package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSameSeriesOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Subsystem: "x", Name: "things_total", Help: "Things."}
	a := CounterVec(reg, opts, "kind")
	b := CounterVec(reg, opts, "kind") // a component built again in the process
	a.WithLabelValues("k").Inc()
	b.WithLabelValues("k").Inc()
	if n := testutil.ToFloat64(a.WithLabelValues("k")); n != 2 {
		t.Errorf("counted %v, want both increments in one series", n)
	}
	if n, err := testutil.GatherAndCount(reg, "edgeos_x_things_total"); err != nil || n != 1 {
		t.Errorf("%d series: %v", n, err)
	}
	v := 3.0
	GaugeFunc(reg, prometheus.GaugeOpts{Name: "level", Help: "Level."}, func() float64 { return v })
	GaugeFunc(reg, prometheus.GaugeOpts{Name: "level", Help: "Level."}, func() float64 { return -1 })
	if n, err := testutil.GatherAndCount(reg, "edgeos_level"); err != nil || n != 1 {
		t.Errorf("%d series: %v", n, err)
	}
}

func TestUnpublished(t *testing.T) {
	c := Counter(nil, prometheus.CounterOpts{Name: "c_total", Help: "C."})
	c.Inc()
	if testutil.ToFloat64(c) != 1 {
		t.Error("an unpublished counter does not count")
	}
}

func TestProcessSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	PublishProcess(reg, t.TempDir())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		m := f.GetMetric()[0]
		got[f.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	if got["edgeos_data_dir_size_bytes"] <= 0 || got["edgeos_data_dir_free_bytes"] <= 0 || got["edgeos_data_dir_free_bytes"] > got["edgeos_data_dir_size_bytes"] {
		t.Errorf("data dir figures %v", got)
	}
	if _, ok := got["edgeos_storage_written_bytes_total"]; !ok {
		t.Errorf("no written bytes: %v", got)
	}
}
