// Package helm benchmarks edgeos's HelmChart controller: on a harness
// server node, the test chart (tests/testdata/charts/demo: a subchart, a
// CRD, a pre-install hook Job) is dropped into the auto-deploy directory as
// a HelmChart with chartContent, and the time is taken from the file's
// write to the HelmChart's Deployed condition, and to the chart's pods
// being ready. Each round installs a new release in its own namespace. It
// is run by bench/helm.sh, once (-benchtime 1x), and writes a markdown
// table to $BENCH_TABLE when set.
package helm

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

var helmCharts = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

func BenchmarkHelmChart(b *testing.B) {
	rounds := benchkit.Rounds(b, 3)
	for range b.N {
		c := harness.New(b)
		nodes, cs := c.StartCluster(0, map[string][]byte{"echo.tar": images.Build(b, "echo")})
		srv := nodes[0]
		dc, err := dynamic.NewForConfig(srv.RESTConfig())
		if err != nil {
			b.Fatal(err)
		}
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			b.Fatal(err)
		}
		pkg := b.TempDir()
		if r := srv.Run("helm", "package", filepath.Join(root, "tests/testdata/charts/demo"), "-d", pkg); r.ExitCode != 0 {
			b.Fatalf("helm package: %s %s", r.Stdout, r.Stderr)
		}
		archive, err := os.ReadFile(filepath.Join(pkg, "demo-0.1.0.tgz"))
		if err != nil {
			b.Fatal(err)
		}
		var deployed, ready []time.Duration
		for i := 1; i <= rounds; i++ {
			name := fmt.Sprintf("bench%d", i)
			doc := fmt.Sprintf("apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: %s\n  namespace: kube-system\nspec:\n  targetNamespace: %[1]s\n  createNamespace: true\n  chartContent: %s\n",
				name, base64.StdEncoding.EncodeToString(archive))
			start := time.Now()
			if err := os.WriteFile(filepath.Join(srv.DataDir, "server", "manifests", name+".yaml"), []byte(doc), 0o600); err != nil {
				b.Fatal(err)
			}
			deployed = append(deployed, waitFor(b, name+" Deployed", start, func(ctx context.Context) bool {
				u, err := dc.Resource(helmCharts).Namespace("kube-system").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false
				}
				conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
				for _, c := range conds {
					if m, _ := c.(map[string]any); m["type"] == "Deployed" && m["status"] == "True" {
						return true
					}
				}
				return false
			}))
			ready = append(ready, waitFor(b, name+" pods ready", start, func(ctx context.Context) bool {
				d, err := cs.AppsV1().Deployments(name).Get(ctx, name+"-demo", metav1.GetOptions{})
				return err == nil && d.Status.ReadyReplicas >= 1
			}))
		}
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			var sb strings.Builder
			sb.WriteString("| from the file written to | median (s) | each round (s) |\n|---|---|---|\n")
			for _, r := range []struct {
				what string
				d    []time.Duration
			}{{"HelmChart Deployed (hook Job done, objects applied)", deployed}, {"the chart's pod ready", ready}} {
				fmt.Fprintf(&sb, "| %s | %.2f | %s |\n", r.what, benchkit.Median(r.d).Seconds(), benchkit.Seconds(r.d))
			}
			fmt.Fprintf(&sb, "\n%d rounds, each a new release of tests/testdata/charts/demo (a subchart, a CRD, a pre-install hook Job, one pod of a local image) in a new namespace, on a harness server node. No pod or image is needed to install it: k3s would first start a klipper-helm Job pod for it.\n", rounds)
			benchkit.Write(b, path, sb.String())
		}
		srv.Stop()
	}
}

// waitFor polls cond every 20 ms, for at most 5 minutes, and returns the
// time since start when it held.
func waitFor(b *testing.B, what string, start time.Time, cond func(context.Context) bool) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for !cond(ctx) {
		if ctx.Err() != nil {
			b.Fatalf("%s: never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}
