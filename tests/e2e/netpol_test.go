// Package e2e runs upstream Kubernetes e2e specs, compiled from the
// k8s.io/kubernetes module edgeos embeds, against a harness cluster. It is
// a module of its own so that the e2e framework and ginkgo stay out of
// edgeos's build. `make e2e-netpol` runs it and keeps the report in
// tests/e2e/reports.
package e2e

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"k8s.io/kubernetes/test/e2e/framework"
	imageutils "k8s.io/kubernetes/test/utils/image"

	"github.com/edgeos/edgeos/pkg/ociimage"
	"github.com/edgeos/edgeos/tests/harness"

	// The specs run: test/e2e/network/netpol registers them at init.
	_ "k8s.io/kubernetes/test/e2e/network/netpol"
)

var reportDir = flag.String("netpol-report-dir", "", "where the spec list and the JUnit report are written (none when empty)")

func TestMain(m *testing.M) {
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()
	harness.RemoveStale()
	os.Exit(m.Run())
}

// skipped are the features whose specs are not run, each with its reason;
// the report lists them with it.
var skipped = map[string]string{
	"SCTPConnectivity": "SCTP connectivity: the test machine's kernel has no SCTP (CONFIG_IP_SCTP is not set), so no pod can open an SCTP socket; edgeos's rules match SCTP ports as they match TCP and UDP ones (pkg/netpol's TestPlan)",
}

// TestNetworkPolicySpecs runs test/e2e/network/netpol's NetworkPolicy specs
// on a server and an agent: the [Feature:NetworkPolicy] specs and the
// NetworkPolicy API specs, with the image they name (agnhost) built from
// the same module and imported on both nodes.
func TestNetworkPolicySpecs(t *testing.T) {
	suite, reporter := framework.CreateGinkgoConfig()
	// Every spec of the package is under "Netpol": those of the
	// NetworkPolicy feature and the API specs (no feature), less the
	// features skipped for a reason. The focus also replaces the
	// framework's default skip of every [Feature:…] spec.
	suite.FocusStrings = []string{`Netpol`}
	suite.SkipStrings = nil
	suite.LabelFilter = "(Feature: containsAny NetworkPolicy || Feature: isEmpty)"
	for feature := range skipped {
		suite.LabelFilter += " && !Feature: containsAny " + feature
	}
	reporter.Verbose = true

	if !suite.DryRun {
		agnhost := agnhostImage(t)
		c := harness.New(t)
		nodes, _ := c.StartCluster(1, map[string][]byte{"agnhost.tar": agnhost})
		framework.TestContext.KubeConfig = nodes[0].BridgeKubeconfig()
		run.edgeos = version(t)
	}
	framework.TestContext.Provider = "skeleton"
	framework.TestContext.NodeOSDistro = "debian"
	framework.TestContext.ReportDir = *reportDir
	framework.AfterReadingAllFlags(&framework.TestContext)
	gomega.RegisterFailHandler(framework.Fail)
	if !ginkgo.RunSpecs(t, "NetworkPolicy", suite, reporter) {
		t.Error("specs failed")
	}
}

// agnhostImage builds test/images/agnhost from the k8s.io/kubernetes module
// (a tool of this module) and packs it as the image the specs name.
func agnhostImage(t *testing.T) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "agnhost")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "k8s.io/kubernetes/test/images/agnhost")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building agnhost: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	err = ociimage.Write(&archive, ociimage.Image{
		Name:       imageutils.GetE2EImage(imageutils.Agnhost),
		Arch:       runtime.GOARCH,
		Files:      []ociimage.File{{Path: "/agnhost", Mode: 0o755, Data: data}},
		Entrypoint: []string{"/agnhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return archive.Bytes()
}
