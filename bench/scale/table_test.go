package scale_test

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/edgeos/edgeos/tests/scale"
)

// podStartupSLO is sig-scalability's pod start-up SLO (p99, no image pull).
const podStartupSLO = 5 * time.Second

func (r result) markdown() string {
	var t strings.Builder
	mb := func(bytes int64) string { return fmt.Sprintf("%.1f MB", float64(bytes)/(1<<20)) }
	fmt.Fprintf(&t, "### %d simulated nodes, %d pods\n\n", r.nodes, r.pods)
	fmt.Fprintf(&t, "Creation (nodes, namespaces, Deployments, until every pod runs): %s, server CPU %.0f%% of a core, writes %s/s. "+
		"Churn for %s (%s) and the settling after it: %s, CPU %.0f%%, writes %s/s; %d pods at the end.\n\n",
		r.create.took.Round(time.Second), r.create.cpuPercent, mb(int64(r.create.writeBps)),
		r.churn.Duration, r.report, r.steady.took.Round(time.Second), r.steady.cpuPercent, mb(int64(r.steady.writeBps)), r.settledPods)

	t.WriteString("| API calls, creation and churn (WATCH, CONNECT left out) | calls | p50 | p99 | worst p99 of one resource | SLO p99 | met |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.slos {
		limit, met := "—", "—"
		if s.Limit > 0 {
			limit, met = secs(s.Limit), yesNo(s.Met())
		}
		fmt.Fprintf(&t, "| %s %s | %d | %s | %s | %s (%s) | %s | %s |\n", s.Verb, s.Scope, s.Count, secs(s.P50), secs(s.P99), secs(s.Worst), s.WorstResource, limit, met)
	}
	p99 := scale.Percentile(r.startup, 99)
	fmt.Fprintf(&t, "| pod start-up (creation → running, seen by a watch) | %d pods | %s | %s | max %s | %s | %s |\n\n",
		len(r.startup), dur(scale.Percentile(r.startup, 50)), dur(p99), dur(scale.Percentile(r.startup, 100)), dur(podStartupSLO), yesNo(len(r.startup) > 0 && p99 <= podStartupSLO))

	errs := "none"
	if n := r.report.ErrorCount(); n > 0 {
		errs = fmt.Sprintf("%d: %s", n, strings.Join(r.report.FirstErrors, "; "))
	}
	fmt.Fprintf(&t, "Server at the end: PSS %s, peak RSS %s. Datastore: %s, WAL at most %s, %s. "+
		"Errors the churn's client saw: %s; \"database is locked\" in the server's log: %d.\n\n",
		mb(r.pssKB<<10), mb(r.hwmKB<<10), mb(r.dbSize), mb(r.walMax), r.ds, errs, r.locked)
	fmt.Fprintf(&t, "NodeNotReady events: %d. Error lines in the server's log: %s.\n\n", r.notReady, summarizeErrors(r.errorLines))
	fmt.Fprintf(&t, "CPU profile of the server in the creation (30 s from 10 s after the Deployments were made), by owner: %s.\n\n", r.createProfile)
	fmt.Fprintf(&t, "CPU profile of the server in the churn, by owner: %s.\n\n", r.profile)
	return t.String()
}

// secs prints seconds from a histogram estimate: milliseconds below one.
func secs(s float64) string {
	if math.IsNaN(s) || s < 0 {
		return "—"
	}
	return dur(time.Duration(s * float64(time.Second)))
}

func dur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

var variable = regexp.MustCompile(`[0-9a-f]{8,}|[0-9]+`)

// summarizeErrors counts error lines by what they say, the commonest
// first, three of them.
func summarizeErrors(lines []string) string {
	if len(lines) == 0 {
		return "none"
	}
	counts := map[string]int{}
	for _, l := range lines {
		// the source line and message without the time and thread, its
		// numbers and hashes (versions, names of pods) made one
		f := strings.Fields(l)
		msg := variable.ReplaceAllString(strings.Join(f[3:], " "), "N")
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		counts[msg]++
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return counts[b] - counts[a] })
	parts := []string{}
	for _, k := range keys[:min(3, len(keys))] {
		parts = append(parts, fmt.Sprintf("%d × `%s`", counts[k], k))
	}
	return fmt.Sprintf("%d (%s)", len(lines), strings.Join(parts, ", "))
}
