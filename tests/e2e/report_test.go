package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/edgeos/edgeos/tests/harness"
)

// run is what the report says about the run beyond ginkgo's own report.
var run struct {
	edgeos string
}

// version is `edgeos --version` of the binary under test.
func version(t *testing.T) string {
	out, err := exec.Command(harness.Binary(t), "--version").Output()
	if err != nil {
		t.Fatalf("edgeos --version: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// The spec list is written after the suite, whatever its outcome: a failed
// run's list is what says which spec failed.
var _ = ginkgo.ReportAfterSuite("report", func(r ginkgo.Report) {
	if *reportDir == "" {
		return
	}
	if err := writeReports(*reportDir, r); err != nil {
		ginkgo.AbortSuite(err.Error())
	}
})

// writeReports writes the spec list beside the framework's JUnit report
// (junit_01.xml, written by the framework when TestContext.ReportDir is set).
func writeReports(dir string, r ginkgo.Report) error {
	return os.WriteFile(filepath.Join(dir, "netpol-specs.md"), []byte(specList(r)), 0o644)
}

// specList is the report kept in the repository: every spec the suite
// holds, run or not, with its outcome, and why a spec was skipped.
func specList(r ginkgo.Report) string {
	var b strings.Builder
	counts := map[types.SpecState]int{}
	type row struct{ name, state string }
	var rows []row
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		counts[s.State]++
		state := s.State.String()
		if s.State == types.SpecStatePassed || s.State == types.SpecStateFailed {
			state += fmt.Sprintf(" (%.0f s)", s.RunTime.Seconds())
		}
		if s.State == types.SpecStateSkipped {
			state += ": " + skipReason(s.FullText())
		}
		rows = append(rows, row{s.FullText(), state})
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.name, b.name) })

	fmt.Fprintf(&b, "# Upstream NetworkPolicy e2e specs against edgeos\n\n")
	fmt.Fprintf(&b, "Written by `make e2e-netpol` (tests/e2e); do not edit.\n\n")
	fmt.Fprintf(&b, "- Run: %s, %s/%s, %d CPUs\n", r.StartTime.UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(&b, "- edgeos: %s\n", run.edgeos)
	fmt.Fprintf(&b, "- Specs: test/e2e/network/netpol of k8s.io/kubernetes %s, focus %q, labels %q\n",
		kubernetesVersion(), r.SuiteConfig.FocusStrings, r.SuiteConfig.LabelFilter)
	fmt.Fprintf(&b, "- Cluster: the harness's server and one agent, agnhost built from the same module\n")
	fmt.Fprintf(&b, "- Result: %s in %.0f s — passed %d, failed %d, skipped %d, pending %d\n\n",
		map[bool]string{true: "PASS", false: "FAIL"}[r.SuiteSucceeded], r.RunTime.Seconds(),
		counts[types.SpecStatePassed], counts[types.SpecStateFailed]+counts[types.SpecStatePanicked]+counts[types.SpecStateTimedout]+counts[types.SpecStateAborted],
		counts[types.SpecStateSkipped], counts[types.SpecStatePending])
	fmt.Fprintf(&b, "| Spec | Result |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", strings.ReplaceAll(row.name, "|", `\|`), row.state)
	}
	return b.String()
}

// skipReason says why a spec was not run: a reason of ours from skipped, or
// else it is outside the focus (specs of other features in the package).
func skipReason(name string) string {
	for feature, why := range skipped {
		if strings.Contains(name, "[Feature:"+feature+"]") {
			return why
		}
	}
	return "not in the focus"
}

// kubernetesVersion is the k8s.io/kubernetes module this module builds
// the specs from (a test binary carries no module list of its own).
func kubernetesVersion() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes").Output()
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}
