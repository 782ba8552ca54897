package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The embedded CRDs are the module's, of exactly Resources: a change of
// the module's version or of Resources without scripts/gateway-crds.sh
// fails here.
func TestCRDsAreTheModules(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("finding the module: %v", err)
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	var want bytes.Buffer
	for _, r := range Resources {
		b, err := os.ReadFile(filepath.Join(dir, "config", "crd", "standard", "gateway.networking.k8s.io_"+r+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString("---\n")
		want.Write(b)
	}
	if !bytes.Equal(crdsYAML, want.Bytes()) {
		t.Fatalf("crds.yaml is not the standard CRDs of %v from sigs.k8s.io/gateway-api %s: run scripts/gateway-crds.sh", Resources, version)
	}
	if version != bundleVersion {
		t.Fatalf("the module is %s, the class says it serves %s: change bundleVersion", version, bundleVersion)
	}
	if !bytes.Contains(crdsYAML, []byte("gateway.networking.k8s.io/bundle-version: "+version+"\n")) {
		t.Fatalf("crds.yaml does not name the bundle version %s", version)
	}
}

// The CRDs as installed keep v1 and the storage version, lose every
// schema description but keep fields named description, and are marked
// as edgeos's.
func TestTrimmedCRDs(t *testing.T) {
	crds, err := trimmedCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != len(Resources) {
		t.Fatalf("%d CRDs, want %d", len(crds), len(Resources))
	}
	for _, u := range crds {
		versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
		var names []string
		storage := 0
		for _, v := range versions {
			m := v.(map[string]any)
			names = append(names, m["name"].(string))
			if m["storage"] == true {
				storage++
			}
		}
		if !slices.Contains(names, "v1") || storage != 1 {
			t.Errorf("%s: versions %v, %d stored", u.GetName(), names, storage)
		}
		b, err := json.Marshal(versions)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"description":"`)) {
			t.Errorf("%s: a description is left", u.GetName())
		}
		if u.GetLabels()[managedLabel] != "edgeos" {
			t.Errorf("%s: labels %v", u.GetName(), u.GetLabels())
		}
	}
	// a field called description stays
	schema := map[string]any{"description": "x", "properties": map[string]any{
		"description": map[string]any{"type": "string", "description": "the field's"},
	}}
	dropDescriptions(schema)
	props := schema["properties"].(map[string]any)
	if _, ok := schema["description"]; ok || props["description"] == nil || props["description"].(map[string]any)["description"] != nil {
		t.Errorf("trimmed: %v", schema)
	}
}
