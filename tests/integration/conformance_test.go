package integration

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/pkg/gateway"
	"github.com/edgeos/edgeos/pkg/ociimage"
	"github.com/edgeos/edgeos/tests/harness"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	conformanceconfig "sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
)

// TestGatewayConformance runs the Gateway API's own conformance suite
// (sigs.k8s.io/gateway-api/conformance, of the CRDs' release) against a
// one-node cluster whose Gateways get addresses of their own from a pool on
// the harness's network (--gateway-addresses): the GATEWAY-HTTP profile,
// its core and the extended features the class edgeos declares. The
// suite's backends, its echo-basic
// server, are built from the suite's module and imported as air-gap images
// under the names its manifests use. With GATEWAY_CONFORMANCE_REPORT set,
// the suite's report is written there (scripts/gateway-conformance.sh
// keeps it in the repository).
func TestGatewayConformance(t *testing.T) {
	c := harness.New(t)
	archives := map[string][]byte{}
	echo := echoBasic(t)
	for i, name := range echoBasicNames(t) {
		archives[fmt.Sprintf("echo-basic-%d.tar", i)] = imageOf(t, echo, name)
	}
	subnet := strings.TrimSuffix(c.HostIP(), ".1")
	pool := subnet + ".200-" + subnet + ".250"
	nodes, cs := c.StartClusterWith(0, archives, []string{"--gateway-api", "--gateway-addresses", pool})
	srv := nodes[0]

	rc := srv.RESTConfig()
	scheme := runtime.NewScheme()
	for _, install := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install, v1beta1.Install, apiextensionsv1.AddToScheme} {
		if err := install(scheme); err != nil {
			t.Fatal(err)
		}
	}
	// the suite makes its clients again for each test, from these options
	clientOptions := client.Options{Scheme: scheme}
	cl, err := client.New(rc, clientOptions)
	if err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command(harness.Binary(t), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	conformance.RunConformanceWithOptions(t, suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gateway.ClassName,
			CleanupBaseResources: true,
			CleanupTestResources: true,
			TimeoutConfig:        conformanceconfig.DefaultTimeoutConfig(),
			ConformanceProfiles:  []suite.ConformanceProfileName{suite.GatewayHTTPConformanceProfileName},
			SupportedFeatures:    gateway.Features,
			Mode:                 "default",
			ReportOutputPath:     os.Getenv("GATEWAY_CONFORMANCE_REPORT"),
			Implementation: confv1.Implementation{
				Organization: "edgeos", Project: "edgeos", URL: "https://github.com/edgeos/edgeos",
				Version: strings.TrimSpace(string(version)), Contact: []string{"https://github.com/edgeos/edgeos/issues"},
			},
		},
		Client:        cl,
		ClientOptions: clientOptions,
		Clientset:     cs,
		RestConfig:    rc,
		ManifestFS:    []fs.FS{&conformance.Manifests},
	})
}

// echoBasicNames are the images the suite's base manifests name: its
// echo-basic, and the CoreDNS that only its UDPRoute tests (another
// profile, not run) send to, for which echo-basic stands in so that the
// suite finds every pod of its namespaces ready.
func echoBasicNames(t *testing.T) []string {
	t.Helper()
	b, err := fs.ReadFile(conformance.Manifests, "base/manifests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`image:\s*(\S+/(?:echo-basic|coredns):\S+)`).FindAllSubmatch(b, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		t.Fatal("the suite's manifests name no echo-basic image")
	}
	return names
}

// echoBasic builds the suite's echo-basic server, statically.
func echoBasic(t *testing.T) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echo-basic")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "sigs.k8s.io/gateway-api/conformance/echo-basic")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building echo-basic: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func imageOf(t *testing.T, program []byte, name string) []byte {
	t.Helper()
	var archive bytes.Buffer
	err := ociimage.Write(&archive, ociimage.Image{
		Name: name, Arch: goruntime.GOARCH,
		Files:      []ociimage.File{{Path: "/echo-basic", Mode: 0o755, Data: program}},
		Entrypoint: []string{"/echo-basic"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return archive.Bytes()
}
