package gateway

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
