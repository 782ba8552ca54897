package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// The app file defines a custom resource before its CRD and its Namespace.
const appManifest = `apiVersion: test.edgeos.io/v1
kind: Widget
metadata:
  name: w
  namespace: shop
spec:
  size: 3
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.edgeos.io
spec:
  group: test.edgeos.io
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  colour: %s
%s---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
`

const extraDocument = `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: shop
`

func app(colour string, extra bool) string {
	if extra {
		return fmt.Sprintf(appManifest, colour, extraDocument)
	}
	return fmt.Sprintf(appManifest, colour, "")
}

// TestManifests drops files into a server's auto-deploy directory: a file
// there before the start is applied at the start, with its custom resource
// before its CRD and Namespace; an edit updates objects and deletes the
// one whose document went; a file with bad YAML and one with an unknown
// kind get a record saying which document and why, without holding up the
// others, and a corrected file is picked up; a .skip file keeps a file
// out; a file removed while the server was stopped has its objects deleted
// at the next start; removing a file deletes what it applied. All of it
// with the HelmChart controller off (--disable-helm-controller), which
// then installs no HelmChart CRD.
func TestManifests(t *testing.T) {
	c := harness.New(t)
	srv := c.AddNode("server")
	dir := filepath.Join(srv.DataDir, "server", "manifests")
	put := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		// written elsewhere and renamed, as a careful writer does
		tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
		if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(name string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	put("app.yaml", app("blue", true))
	// manifests work without the HelmChart controller
	args := srv.ServerArgs("--disable-agent", "--disable-helm-controller")
	srv.Start(args...)
	cs := srv.WaitReady()
	dc, err := dynamic.NewForConfig(srv.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, err := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).Get(ctx, "helmcharts.helm.cattle.io", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the HelmChart CRD with --disable-helm-controller: %v, want none", err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the auto-deploy directory: %v %v, want mode 0700", st, err)
	}
	applied := func(file string) {
		t.Helper()
		manifestState(t, dc, file, "True", "Applied", "objects applied")
	}
	colour := func(want string) {
		t.Helper()
		eventually(t, "ConfigMap shop/settings has colour "+want, func(ctx context.Context) (bool, error) {
			cm, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return cm.Data["colour"] == want, fmt.Errorf("colour %q", cm.Data["colour"])
		})
	}
	widgets := dc.Resource(schema.GroupVersionResource{Group: "test.edgeos.io", Version: "v1", Resource: "widgets"}).Namespace("shop")
	applied("app.yaml")
	if w, err := widgets.Get(ctx, "w", metav1.GetOptions{}); err != nil {
		t.Errorf("the Widget written before its CRD: %v", err)
	} else if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 3 {
		t.Errorf("the Widget's size %d, want 3", size)
	}
	colour("blue")
	if _, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "extra", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap shop/extra: %v", err)
	}

	// bad files get a record naming the document; the others go on
	put("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n   data: x\n")
	put("unknown.yaml", "apiVersion: nowhere.example/v1\nkind: Gadget\nmetadata: {name: g}\n")
	manifestState(t, dc, "broken.yaml", "False", "Invalid", "document 2 (line 5): line 9: mapping values")
	manifestState(t, dc, "unknown.yaml", "False", "Pending", "document 1 (line 1), Gadget g: the API serves no kind Gadget in nowhere.example/v1")
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "fine", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap fine of the invalid file: %v, want none: a file is applied whole or not at all", err)
	}
	put("app.yaml", app("green", false))
	colour("green")
	applied("app.yaml")
	eventually(t, "ConfigMap shop/extra, whose document went, is deleted", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "extra", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	put("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata: {x: z}\n")
	applied("broken.yaml")
	for _, name := range []string{"fine", "broken"} {
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s of the corrected file (in default, as it names no namespace): %v", name, err)
		}
	}

	// .skip; a file in a subdirectory; the records as kubectl shows them
	put("skipped.skip", "")
	put("skipped.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: skipped}\n")
	put("sub/one.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n")
	manifestState(t, dc, "skipped.yaml", "Unknown", "Skipped", ".skip")
	applied("sub/one.yaml")
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "skipped", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap of the skipped file: %v, want none", err)
	}
	r := srv.Run("kubectl", "get", "manifests")
	for _, want := range []string{"sub/one.yaml", "unknown.yaml", "Pending", "app.yaml", "Applied"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("kubectl get manifests does not show %q:\n%s%s", want, r.Stdout, r.Stderr)
		}
	}

	// changes while the server is stopped are found at its start
	if code := srv.Stop(); code != 0 {
		t.Fatalf("server exit code %d", code)
	}
	remove("broken.yaml")
	put("app.yaml", app("red", false))
	srv.Start(args...)
	srv.WaitReady()
	colour("red")
	for _, name := range []string{"fine", "broken"} {
		eventually(t, "ConfigMap "+name+" of the file removed while the server was stopped is deleted", func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	}
	noRecord(t, dc, "broken.yaml")
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "one", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap one of a file left alone: %v", err)
	}

	// removing a file deletes what it applied: the CRD and its objects,
	// the Namespace
	remove("app.yaml")
	noRecord(t, dc, "app.yaml")
	eventually(t, "the CRD of the removed file is deleted", func(ctx context.Context) (bool, error) {
		_, err := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).Get(ctx, "widgets.test.edgeos.io", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	eventually(t, "the Namespace of the removed file is deleted", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	manifestState(t, dc, "unknown.yaml", "False", "Pending", "Gadget g")
}

var manifestGVR = schema.GroupVersionResource{Group: "deploy.edgeos.io", Version: "v1", Resource: "manifests"}

// manifestState waits until the record of file has an Applied condition of
// status and reason, with a message holding phrase.
func manifestState(t *testing.T, dc dynamic.Interface, file, status, reason, phrase string) {
	t.Helper()
	eventually(t, fmt.Sprintf("Manifest %s is %s (%s)", file, reason, phrase), func(ctx context.Context) (bool, error) {
		rec, err := record(ctx, dc, file)
		if rec == nil || err != nil {
			return false, err
		}
		got, gotReason, msg := conditionOf(rec, "Applied")
		return got == status && gotReason == reason && strings.Contains(msg, phrase),
			fmt.Errorf("Applied %q %s: %s", got, gotReason, msg)
	})
}

// noRecord waits until file has no record.
func noRecord(t *testing.T, dc dynamic.Interface, file string) {
	t.Helper()
	eventually(t, "the record of "+file+" is gone", func(ctx context.Context) (bool, error) {
		rec, err := record(ctx, dc, file)
		return rec == nil && err == nil, err
	})
}

// record finds the Manifest of file (nil: none).
func record(ctx context.Context, dc dynamic.Interface, file string) (*unstructured.Unstructured, error) {
	list, err := dc.Resource(manifestGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		if f, _, _ := unstructured.NestedString(list.Items[i].Object, "spec", "file"); f == file {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}
