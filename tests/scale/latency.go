package scale

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
)

// requestMetric is the apiserver's own request latency histogram.
const requestMetric = "apiserver_request_duration_seconds"

// Requests is the apiserver's request latency histogram by verb, scope and
// resource, cumulative since the apiserver started.
type Requests map[RequestKey]Histogram

// RequestKey names one series; Resource carries its subresource after a
// slash (pods/status).
type RequestKey struct{ Verb, Scope, Resource string }

// Histogram is a cumulative histogram: counts of observations at or below
// each bound, bounds ascending, the last one +Inf.
type Histogram struct {
	Bounds []float64
	Counts []uint64
}

// Count is how many observations the histogram holds.
func (h Histogram) Count() uint64 {
	if len(h.Counts) == 0 {
		return 0
	}
	return h.Counts[len(h.Counts)-1]
}

// ScrapeRequests reads the histogram from the apiserver's /metrics.
func ScrapeRequests(ctx context.Context, cs kubernetes.Interface) (Requests, error) {
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return ParseRequests(body)
}

// ParseRequests reads the histogram from text in Prometheus's exposition
// format, with Prometheus's own parser. WATCH and CONNECT (long-running
// calls, which the SLOs leave out) are skipped, and dry runs with them.
func ParseRequests(r io.Reader) (Requests, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing metrics: %w", err)
	}
	out := Requests{}
	fam, ok := families[requestMetric]
	if !ok {
		return nil, fmt.Errorf("no %s in the metrics", requestMetric)
	}
	for _, m := range fam.GetMetric() {
		l := labels(m)
		if l["verb"] == "WATCH" || l["verb"] == "CONNECT" || l["dry_run"] != "" {
			continue
		}
		key := RequestKey{Verb: l["verb"], Scope: l["scope"], Resource: l["resource"]}
		if key.Scope == "" {
			// /healthz, /openapi and the like: no SLO covers them
			key.Scope = "non-resource"
		}
		if l["subresource"] != "" {
			key.Resource += "/" + l["subresource"]
		}
		h := m.GetHistogram()
		if h == nil {
			return nil, fmt.Errorf("%s is not a histogram", requestMetric)
		}
		var hist Histogram
		for _, b := range h.GetBucket() {
			hist.Bounds = append(hist.Bounds, b.GetUpperBound())
			hist.Counts = append(hist.Counts, b.GetCumulativeCount())
		}
		if len(hist.Bounds) == 0 || !math.IsInf(hist.Bounds[len(hist.Bounds)-1], 1) {
			hist.Bounds = append(hist.Bounds, math.Inf(1))
			hist.Counts = append(hist.Counts, h.GetSampleCount())
		}
		// the same verb, scope and resource in another group or version,
		// or from another component label, adds up
		out[key] = out[key].add(hist)
	}
	return out, nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// add sums two histograms of the same bounds (an empty one takes the other's).
func (h Histogram) add(o Histogram) Histogram {
	if len(h.Bounds) == 0 {
		return Histogram{Bounds: slices.Clone(o.Bounds), Counts: slices.Clone(o.Counts)}
	}
	out := Histogram{Bounds: h.Bounds, Counts: slices.Clone(h.Counts)}
	for i := range out.Counts {
		if i < len(o.Counts) {
			out.Counts[i] += o.Counts[i]
		}
	}
	return out
}

// Since is what was observed between before and r, both read from the
// same apiserver process.
func (r Requests) Since(before Requests) Requests {
	out := Requests{}
	for k, h := range r {
		d := Histogram{Bounds: h.Bounds, Counts: slices.Clone(h.Counts)}
		if b, ok := before[k]; ok {
			for i := range d.Counts {
				if i < len(b.Counts) && b.Counts[i] <= d.Counts[i] {
					d.Counts[i] -= b.Counts[i]
				}
			}
		}
		if d.Count() > 0 {
			out[k] = d
		}
	}
	return out
}

// Quantile estimates the q-quantile (0 < q < 1) as Prometheus's
// histogram_quantile does: linear within the bucket that holds it, the
// highest finite bound when it falls in the +Inf bucket.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Count()
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	prevBound, prevCount := 0.0, uint64(0)
	for i, bound := range h.Bounds {
		if float64(h.Counts[i]) >= rank {
			if math.IsInf(bound, 1) {
				return prevBound
			}
			in := float64(h.Counts[i] - prevCount)
			if in == 0 {
				return bound
			}
			return prevBound + (bound-prevBound)*(rank-float64(prevCount))/in
		}
		prevBound, prevCount = bound, h.Counts[i]
	}
	return prevBound
}

// SLO is one row of the latency table: a verb and scope over every
// resource, and the resource with the worst p99 among them.
type SLO struct {
	Verb, Scope   string
	Count         uint64
	P50, P99      float64 // seconds, over every resource
	Worst         float64 // seconds, the worst p99 of one resource
	WorstResource string
	// Limit is the p99 the SLO allows each resource, 0 where no SLO
	// applies (DELETECOLLECTION, non-resource paths).
	Limit float64
}

// Met reports whether every resource's p99 is within the SLO (true where
// none applies).
func (s SLO) Met() bool { return s.Limit == 0 || s.Worst <= s.Limit }

// sloLimit is sig-scalability's API call latency SLO for a verb and
// scope: mutating calls on single objects 1 s; reads 1 s for one object,
// 5 s in a namespace, 30 s across the cluster; none for non-resource
// paths.
func sloLimit(verb, scope string) float64 {
	if scope == "non-resource" {
		return 0
	}
	switch verb {
	case "POST", "PUT", "PATCH", "DELETE", "APPLY":
		return 1
	case "GET", "LIST":
		switch scope {
		case "namespace":
			return 5
		case "cluster":
			return 30
		}
		return 1
	}
	return 0
}

// SLOs are the table's rows, ordered by verb and scope.
func (r Requests) SLOs() []SLO {
	type vs struct{ verb, scope string }
	groups := map[vs]*SLO{}
	sums := map[vs]Histogram{}
	for k, h := range r {
		g := vs{k.Verb, k.Scope}
		s, ok := groups[g]
		if !ok {
			s = &SLO{Verb: k.Verb, Scope: k.Scope, Limit: sloLimit(k.Verb, k.Scope), Worst: -1}
			groups[g] = s
		}
		sums[g] = sums[g].add(h)
		if p := h.Quantile(0.99); p > s.Worst {
			s.Worst, s.WorstResource = p, k.Resource
		}
	}
	out := make([]SLO, 0, len(groups))
	for g, s := range groups {
		h := sums[g]
		s.Count, s.P50, s.P99 = h.Count(), h.Quantile(0.5), h.Quantile(0.99)
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b SLO) int {
		return strings.Compare(a.Verb+" "+a.Scope, b.Verb+" "+b.Scope)
	})
	return out
}
