package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var helmChartGVR = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

// TestHelmChart installs tests/testdata/charts/demo (a subchart, a CRD in
// crds/, a pre-install hook Job, helpers, values) from HelmCharts dropped
// into the auto-deploy directory, written as for k3s: from chartContent,
// its pods run and its hook ran; a HelmChartConfig's value upgrades it;
// `edgeos helm rollback` rolls it back and the controller leaves that be
// until the HelmChart changes. The same chart from the server's static
// directory installs too, and from a chart repository that asks for
// credentials; an upgrade that fails with failurePolicy retry leaves the
// release serving until the values are right again. A chart that is no archive, that does not
// render, whose objects the API refuses or whose hook fails gets a status
// and an Event saying why, and the other charts are unaffected; corrected,
// it installs without a restart. A server
// killed in the middle of an install leaves no release pending: the next
// start finishes it. Deleting the file uninstalls the release, keeping the
// CRD. A stop leaves none of the controller's goroutines running.
func TestHelmChart(t *testing.T) {
	c := harness.New(t)
	nodes, cs := c.StartCluster(0, map[string][]byte{"echo.tar": images.Build(t, "echo")})
	srv := nodes[0]
	dc, err := dynamic.NewForConfig(srv.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	manifests := filepath.Join(srv.DataDir, "server", "manifests")
	put := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(manifests, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	pkgDir := t.TempDir()
	if r := srv.Run("helm", "package", filepath.Join(repoRoot(t), "tests/testdata/charts/demo"), "-d", pkgDir); r.ExitCode != 0 {
		t.Fatalf("helm package: %s %s", r.Stdout, r.Stderr)
	}
	archive, err := os.ReadFile(filepath.Join(pkgDir, "demo-0.1.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	chart := func(name, target, source, extra string) string {
		return fmt.Sprintf("apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: %s\n  namespace: kube-system\nspec:\n  targetNamespace: %s\n  createNamespace: true\n  %s\n%s", name, target, source, extra)
	}
	content := "chartContent: " + base64.StdEncoding.EncodeToString(archive)
	put("demo.yaml", chart("demo", "demo", content, "  valuesContent: |\n    replicas: 2\n"))

	deployed(t, dc, "demo", 1)
	colourIs(t, cs, "demo", "demo-demo-settings", "blue")
	eventually(t, "the demo Deployment's 2 pods are ready", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("demo").Get(ctx, "demo-demo", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.ReadyReplicas == 2, fmt.Errorf("%d ready", d.Status.ReadyReplicas)
	})
	if cm, err := cs.CoreV1().ConfigMaps("demo").Get(ctx, "demo-greeting", metav1.GetOptions{}); err != nil || cm.Data["greeting"] != "hello" {
		t.Errorf("the subchart's ConfigMap, with the parent's value: %v %v", cm, err)
	}
	if job, err := cs.BatchV1().Jobs("demo").Get(ctx, "demo-demo-pre-install", metav1.GetOptions{}); err != nil || job.Status.Succeeded != 1 {
		t.Errorf("the pre-install hook Job: %v %v", job, err)
	}
	gadgets := dc.Resource(schema.GroupVersionResource{Group: "demo.edgeos.io", Version: "v1", Resource: "gadgets"})
	if _, err := gadgets.Namespace("demo").Get(ctx, "demo-demo", metav1.GetOptions{}); err != nil {
		t.Errorf("the Gadget of the chart's own CRD: %v", err)
	}
	if rel := helmList(t, srv, "demo"); rel["status"] != "deployed" || rel["revision"] != "1" {
		t.Errorf("edgeos helm list: %v, want revision 1 deployed", rel)
	}

	// a HelmChartConfig's values go over the HelmChart's
	put("demo-config.yaml", "apiVersion: helm.cattle.io/v1\nkind: HelmChartConfig\nmetadata:\n  name: demo\n  namespace: kube-system\nspec:\n  valuesContent: |\n    colour: green\n")
	deployed(t, dc, "demo", 2)
	colourIs(t, cs, "demo", "demo-demo-settings", "green")

	// a rollback by hand stays until the HelmChart changes
	if r := srv.Run("helm", "rollback", "demo", "1", "-n", "demo"); r.ExitCode != 0 {
		t.Fatalf("edgeos helm rollback: %s %s", r.Stdout, r.Stderr)
	}
	colourIs(t, cs, "demo", "demo-demo-settings", "blue")
	if rel := helmList(t, srv, "demo"); rel["revision"] != "3" {
		t.Errorf("after the rollback: %v, want revision 3", rel)
	}
	if err := os.Remove(filepath.Join(manifests, "demo-config.yaml")); err != nil {
		t.Fatal(err)
	}
	deployed(t, dc, "demo", 4)
	colourIs(t, cs, "demo", "demo-demo-settings", "blue")

	// from the static directory
	static := filepath.Join(srv.DataDir, "server", "static", "charts")
	if err := os.MkdirAll(static, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(static, "demo.tgz"), archive, 0o600); err != nil {
		t.Fatal(err)
	}
	put("static.yaml", chart("fromstatic", "static", "chart: https://%{KUBERNETES_API}%/static/charts/demo.tgz", "  set:\n    colour: purple\n"))
	deployed(t, dc, "fromstatic", 1)
	colourIs(t, cs, "static", "fromstatic-demo-settings", "purple")

	// from a chart repository, with credentials (a repository inside the
	// harness, on the host's bridge address)
	ln, err := net.Listen("tcp", net.JoinHostPort(c.HostIP(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	repoURL := "http://" + ln.Addr().String()
	if r := srv.Run("helm", "repo", "index", pkgDir, "--url", repoURL); r.ExitCode != 0 {
		t.Fatalf("helm repo index: %s %s", r.Stdout, r.Stderr)
	}
	files := http.FileServer(http.Dir(pkgDir))
	repo := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "fleet" || pass != "s3cret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	})}
	go repo.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { repo.Close() })
	if _, err := cs.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "repo-auth"},
		Type:       corev1.SecretTypeBasicAuth,
		Data:       map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	put("online.yaml", chart("online", "online", "repo: "+repoURL+"\n  chart: demo\n  version: 0.1.0\n  authSecret: {name: repo-auth}", "  failurePolicy: retry\n  set:\n    colour: orange\n"))
	deployed(t, dc, "online", 1)
	colourIs(t, cs, "online", "online-demo-settings", "orange")
	// an upgrade the API refuses, with failurePolicy retry: the release
	// keeps serving, and once the values are right again it upgrades
	put("online-config.yaml", "apiVersion: helm.cattle.io/v1\nkind: HelmChartConfig\nmetadata:\n  name: online\n  namespace: kube-system\nspec:\n  failurePolicy: retry\n  valuesContent: |\n    replicas: many\n")
	chartFailed(t, dc, "online", "UpgradeFailed", "replicas")
	colourIs(t, cs, "online", "online-demo-settings", "orange")
	if err := os.Remove(filepath.Join(manifests, "online-config.yaml")); err != nil {
		t.Fatal(err)
	}
	deployed(t, dc, "online", 3)

	// bad charts say why; the others are unaffected
	put("refused.yaml", chart("refused", "refused", content, "  failurePolicy: abort\n  set:\n    replicas: many\n"))
	put("garbage.yaml", chart("garbage", "garbage", "chartContent: "+base64.StdEncoding.EncodeToString([]byte("not a chart")), ""))
	put("unrendered.yaml", chart("unrendered", "unrendered", content, "  failurePolicy: abort\n  set:\n    colour: \"\"\n"))
	put("hookfails.yaml", chart("hookfails", "hookfails", content, "  failurePolicy: abort\n  set:\n    hookFails: \"true\"\n"))
	chartFailed(t, dc, "refused", "InstallFailed", "replicas")
	chartFailed(t, dc, "garbage", "InvalidChart", "the chart archive")
	chartFailed(t, dc, "unrendered", "InstallFailed", "the chart needs a colour")
	chartFailed(t, dc, "hookfails", "InstallFailed", "pre-install")
	chartEvent(t, cs, "refused", "InstallFailed")
	// a corrected file is picked up, without a restart
	put("unrendered.yaml", chart("unrendered", "unrendered", content, "  failurePolicy: abort\n  set:\n    colour: teal\n"))
	deployed(t, dc, "unrendered", 1)
	colourIs(t, cs, "unrendered", "unrendered-demo-settings", "teal")
	colourIs(t, cs, "static", "fromstatic-demo-settings", "purple")

	// a server stopped in the middle of an install: the next start finishes
	// it, leaving nothing pending
	put("slow.yaml", chart("slow", "slow", content, "  timeout: 15s\n  set:\n    hookNeverEnds: \"true\"\n"))
	eventually(t, "release slow is pending-install, its hook running", func(ctx context.Context) (bool, error) {
		rel := helmList(t, srv, "slow", "--pending")
		return rel["status"] == "pending-install", fmt.Errorf("release %v", rel)
	})
	srv.Kill()
	put("slow.yaml", chart("slow", "slow", content, "  timeout: 15s\n"))
	srv.Start(srv.ServerArgs()...)
	srv.WaitReady()
	deployed(t, dc, "slow", 1)
	if rel := helmList(t, srv, "slow"); rel["status"] != "deployed" {
		t.Errorf("release slow after the restart: %v", rel)
	}
	chartEvent(t, cs, "slow", "Recovered")

	// deleting the file uninstalls the release; the CRD stays (Helm's rule)
	if err := os.Remove(filepath.Join(manifests, "demo.yaml")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "HelmChart demo is gone, its release uninstalled", func(ctx context.Context) (bool, error) {
		_, err := dc.Resource(helmChartGVR).Namespace("kube-system").Get(ctx, "demo", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	if rel := helmList(t, srv, "demo"); rel != nil {
		t.Errorf("release demo after its HelmChart went: %v", rel)
	}
	eventually(t, "the demo ConfigMap is gone", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ConfigMaps("demo").Get(ctx, "demo-demo-settings", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	if _, err := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).Get(ctx, "gadgets.demo.edgeos.io", metav1.GetOptions{}); err != nil {
		t.Errorf("the chart's CRD after the uninstall: %v, want it kept", err)
	}
	// the controller and the deployer end what they started, Helm's
	// watches included
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code after SIGTERM: %d, want 0", code)
	}
	checkStopped(t, srv.Log())
}

// deployed waits until HelmChart name (in kube-system) is Deployed at
// revision.
func deployed(t *testing.T, dc dynamic.Interface, name string, revision int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("HelmChart %s is deployed at revision %d", name, revision), func(ctx context.Context) (bool, error) {
		u, err := dc.Resource(helmChartGVR).Namespace("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		rev, _, _ := unstructured.NestedInt64(u.Object, "status", "revision")
		status, reason, msg := conditionOf(u, "Deployed")
		return status == "True" && rev == revision, fmt.Errorf("revision %d, Deployed %s %s: %s", rev, status, reason, msg)
	})
}

// chartFailed waits until HelmChart name has Failed with reason and a
// message holding phrase.
func chartFailed(t *testing.T, dc dynamic.Interface, name, reason, phrase string) {
	t.Helper()
	eventually(t, fmt.Sprintf("HelmChart %s failed (%s)", name, reason), func(ctx context.Context) (bool, error) {
		u, err := dc.Resource(helmChartGVR).Namespace("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		status, got, msg := conditionOf(u, "Failed")
		return status == "True" && got == reason && strings.Contains(msg, phrase), fmt.Errorf("Failed %s %s: %s", status, got, msg)
	})
}

// chartEvent waits for an Event of reason on HelmChart name.
func chartEvent(t *testing.T, cs kubernetes.Interface, name, reason string) {
	t.Helper()
	eventually(t, fmt.Sprintf("a %s Event on HelmChart %s", reason, name), func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			return false, err
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Reason == reason && e.InvolvedObject.Kind == "HelmChart" {
				return true, nil
			}
			seen = append(seen, e.Reason)
		}
		return false, fmt.Errorf("events %v", seen)
	})
}

// conditionOf reads a condition of an object's status ("" when it has
// none of that type).
func conditionOf(u *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		}
	}
	return status, reason, message
}

func colourIs(t *testing.T, cs kubernetes.Interface, ns, name, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("ConfigMap %s/%s has colour %s", ns, name, want), func(ctx context.Context) (bool, error) {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return cm.Data["colour"] == want, fmt.Errorf("colour %q", cm.Data["colour"])
	})
}

// helmList is `edgeos helm list` of a namespace's release of the same
// name, as strings (nil: none).
func helmList(t *testing.T, n *harness.Node, ns string, flags ...string) map[string]string {
	t.Helper()
	r := n.Run(append([]string{"helm", "list", "-n", ns, "-o", "json"}, flags...)...)
	if r.ExitCode != 0 {
		t.Fatalf("edgeos helm list: %s %s", r.Stdout, r.Stderr)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("edgeos helm list: %v: %s", err, r.Stdout)
	}
	for _, rel := range list {
		if rel["name"] == ns {
			out := map[string]string{}
			for k, v := range rel {
				out[k] = fmt.Sprint(v)
			}
			return out
		}
	}
	return nil
}
