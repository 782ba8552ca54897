package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
)

// TestKubeletStopsOnItsOwn: a kubelet that ends by its own decision (here
// upstream's --exit-on-lock-contention, when another program opens its
// lock file) ends edgeos with a non-zero exit code and a line saying why,
// so that the service manager restarts it, instead of leaving a node
// without a kubelet.
func TestKubeletStopsOnItsOwn(t *testing.T) {
	c := harness.New(t)
	srv := c.AddNode("server")
	lock := filepath.Join(srv.DataDir, "kubelet.lock")
	srv.Start(srv.ServerArgs("--kubelet-arg=exit-on-lock-contention=true", "--kubelet-arg=lock-file="+lock)...)
	srv.WaitLog("edgeos server is ready")
	if r := srv.Shell("cat " + lock + " >/dev/null"); r.ExitCode != 0 {
		t.Fatalf("opening the kubelet's lock file: %s", r.Stderr)
	}
	if code := srv.Wait(); code == 0 {
		t.Error("edgeos ended with exit code 0 after its kubelet stopped")
	}
	// on failure the harness shows the log's last lines
	if !strings.Contains(srv.Log(), "kubelet stopped on its own") {
		t.Error("no line says the kubelet stopped")
	}
}
