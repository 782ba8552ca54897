// Package scale drives a server with nodes simulated by kwok, for the scale
// bench and the scale test: kwok built from its module, the simulated nodes,
// a workload of Deployments, ConfigMaps and Secrets, churn at a fixed rate,
// pod start-up as a watch sees it, and the apiserver's own request latency
// held against Kubernetes' scalability SLOs.
package scale

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KwokVersion is the kwok release built from its module.
const KwokVersion = "v0.8.0"

// KwokPort is where kwok serves the simulated kubelets' endpoints, on the
// server's address (the server runs no kubelet of its own here).
const KwokPort = 10250

// Kwok is a kwok binary and its module's source, which holds the stages
// (the simulated lifecycles of nodes and pods) that it is run with.
type Kwok struct {
	Bin, Src string
}

// InstallKwok builds kwok from its module with the Go toolchain (through
// the module proxy, as the build of edgeos itself) into a temporary
// directory.
func InstallKwok(tb testing.TB) Kwok {
	tb.Helper()
	dir := tb.TempDir()
	cmd := exec.Command("go", "install", "sigs.k8s.io/kwok/cmd/kwok@"+KwokVersion)
	// outside any module, so that kwok's own go.mod decides its dependencies
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building kwok %s: %v\n%s", KwokVersion, err, out)
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		tb.Fatalf("go env GOMODCACHE: %v", err)
	}
	k := Kwok{Bin: filepath.Join(dir, "kwok"), Src: filepath.Join(strings.TrimSpace(string(cache)), "sigs.k8s.io", "kwok@"+KwokVersion)}
	if _, err := os.Stat(filepath.Join(k.Src, "kustomize")); err != nil {
		tb.Fatalf("kwok's module source: %v", err)
	}
	return k
}

// Start runs kwok on the server's machine with the stages of kwok's own
// "fast" node and pod lifecycles and node Leases renewed as a kubelet
// renews its own (the stage that keeps a node Ready writes its status
// only every 10 minutes and counts on the Lease), and its resource metrics and
// usage (1m CPU and 1 MiB a pod unless a pod's annotations say otherwise),
// all read from kwok's module. Its serving certificate is signed by the
// cluster's kubelet CA, as a kubelet's is.
func (k Kwok) Start(tb testing.TB, srv *harness.Node) {
	tb.Helper()
	var config []string
	for _, f := range []string{
		"kustomize/stage/node/fast/node-initialize.yaml",
		"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"kustomize/stage/pod/fast/pod-ready.yaml",
		"kustomize/stage/pod/fast/pod-complete.yaml",
		"kustomize/stage/pod/fast/pod-delete.yaml",
		"kustomize/metrics/resource/metrics-resource.yaml",
		"kustomize/metrics/usage/usage-from-annotation.yaml",
	} {
		data, err := os.ReadFile(filepath.Join(k.Src, f))
		if err != nil {
			tb.Fatal(err)
		}
		config = append(config, string(data))
	}
	dir := tb.TempDir()
	configFile := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(configFile, []byte(strings.Join(config, "\n---\n")), 0o600); err != nil {
		tb.Fatal(err)
	}
	ca, err := pki.EnsureCA(filepath.Join(srv.DataDir, "server", "tls"), "kubelet-ca", "")
	if err != nil {
		tb.Fatal(err)
	}
	cert, key := filepath.Join(dir, "kwok.crt"), filepath.Join(dir, "kwok.key")
	if _, err := ca.EnsureLeaf(cert, key, pki.Leaf{CommonName: "kwok", IPs: []net.IP{net.ParseIP(srv.IP)}, Server: true}, 24*time.Hour); err != nil {
		tb.Fatal(err)
	}
	srv.Background(k.Bin, "--kubeconfig", srv.Kubeconfig, "--config", configFile,
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--server-address", net.JoinHostPort(srv.IP, strconv.Itoa(KwokPort)),
		"--node-ip", srv.IP, "--node-port", strconv.Itoa(KwokPort),
		"--tls-cert-file", cert, "--tls-private-key-file", key,
		"--node-lease-duration-seconds", strconv.Itoa(nodeLeaseSeconds),
		"--cidr", "10.0.0.0/16")
}

// nodeLeaseSeconds is the simulated kubelets' Lease duration, the
// kubelet's default.
const nodeLeaseSeconds = 40

// NodeLabel selects the simulated nodes (type=kwok).
const NodeLabel = "type"

// CreateNodes makes n nodes for kwok to run, named kwok-node-I: its
// annotation, the path of their resource metrics on kwok's server, and
// their addresses (kwok's server), as a kubelet registers its node. Both
// address types are set: kwok's node-initialize stage, run again on a
// node, empties the addresses of one that lacks either. It waits until
// every one is Ready.
func CreateNodes(tb testing.TB, cs kubernetes.Interface, ip string, n int) {
	tb.Helper()
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				"kwok.x-k8s.io/node":                   "fake",
				"metrics.k8s.io/resource-metrics-path": "/metrics/nodes/" + name + "/metrics/resource",
			},
			Labels: map[string]string{NodeLabel: "kwok", "kubernetes.io/hostname": name},
		}, Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: KwokPort}},
		}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	WaitFor(tb, 10*time.Minute, time.Second, func() (bool, string) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: NodeLabel + "=kwok"})
		ready := 0
		if err == nil {
			for _, nd := range list.Items {
				for _, c := range nd.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		return ready == n, fmt.Sprintf("%d of %d simulated nodes Ready (%v)", ready, n, err)
	})
}

// WaitFor polls check every interval until it reports done, failing tb
// with check's last word after limit. The limit catches a hang, not
// slowness.
func WaitFor(tb testing.TB, limit, interval time.Duration, check func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		done, msg := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", limit, msg)
		}
		time.Sleep(interval)
	}
}

// NotReadyEvents counts the cluster's NodeNotReady events: a simulated
// node whose Lease lapsed under the load (and its pods, marked NotReady
// with it).
func NotReadyEvents(ctx context.Context, cs kubernetes.Interface) (int, error) {
	ev, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "reason=NodeNotReady"})
	if err != nil {
		return 0, err
	}
	return len(ev.Items), nil
}
