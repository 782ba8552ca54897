package netpol

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
)

// kubeRouterVersion is the only version of kube-router the module proxy
// serves here. Advisories are listed against it for its BGP router
// (GHSA-v5mh-h5hx-7v92: GoBGP's management API open to pods), which the
// bench does not run: only its firewall, inside the harness's namespaces.
const kubeRouterVersion = "v2.1.0"

// kubeRouter builds kube-router from its module.
func kubeRouter(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command("go", "install", "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@"+kubeRouterVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building kube-router %s: %v\n%s", kubeRouterVersion, err, out)
	}
	return filepath.Join(dir, "kube-router")
}

// startKubeRouter runs kube-router's NetworkPolicy controller alone on each
// node (no router, no service proxy: kube-proxy and edgeos's overlay stay),
// as k3s runs it, and waits until its chains exist on each.
func startKubeRouter(b *testing.B, bin, kubeconfig string, nodes ...*harness.Node) {
	b.Helper()
	for _, n := range nodes {
		n.Background(bin, "--kubeconfig="+kubeconfig, "--hostname-override="+n.Name,
			"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
			"--service-cluster-ip-range=10.43.0.0/16", "--metrics-port=0", "--health-port=0", "-v=1")
	}
	for _, n := range nodes {
		deadline := time.Now().Add(bound)
		for n.Shell("iptables -S KUBE-ROUTER-FORWARD").ExitCode != 0 {
			if time.Now().After(deadline) {
				b.Fatalf("kube-router on %s made no KUBE-ROUTER-FORWARD chain within %s", n.Name, bound)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
