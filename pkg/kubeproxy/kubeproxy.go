// Package kubeproxy runs the upstream kube-proxy inside the edgeos process,
// in iptables mode.
//
// iptables rather than nftables: kube-proxy's nftables mode needs a 5.13+
// kernel and the nft program, and many edge boards still run older vendor
// kernels; the iptables program works on every kernel we support, with
// either its legacy or its nft backend, and is what CNIs users bring
// (Calico, Cilium in kube-proxy-replacement off) expect beside them.
//
// Like the kubelet, kube-proxy is driven through its own command with the
// flags edgeos decides, so --kube-proxy-arg keeps the upstream meaning.
package kubeproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	logsapi "k8s.io/component-base/logs/api/v1"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
)

// Ports kube-proxy serves on loopback.
const (
	HealthzAddress = "127.0.0.1:10256"
	MetricsAddress = "127.0.0.1:10249"
)

// KubeProxy is the component.
type KubeProxy struct{ args []string }

// New prepares a kube-proxy that runs with args (--key=value).
func New(args []string) *KubeProxy { return &KubeProxy{args: args} }

func (k *KubeProxy) Name() string { return "kube-proxy" }

// Run runs kube-proxy and reports ready once its health server answers:
// 200 once it has programmed its rules, 503 before, as while the API server
// is unreachable at an offline start (the rules of the last run are still
// in the kernel then). kube-proxy takes no stop context: on stop it
// is left running until the process ends, and its rules stay in place, so
// Services keep working across an edgeos restart.
func (k *KubeProxy) Run(ctx context.Context, ready func()) error {
	// The kubelet in this process has applied the logging configuration
	// already; kube-proxy applies the same one again, which upstream refuses
	// unless told to accept an unchanged one.
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged
	errc := make(chan error, 1)
	go func() {
		cmd := proxyapp.NewProxyCommand()
		cmd.SetArgs(k.args)
		errc <- cmd.Execute()
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get("http://" + HealthzAddress + "/healthz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ready()
			break
		}
		select {
		case err := <-errc:
			return fmt.Errorf("kube-proxy: %v", err)
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	select {
	case err := <-errc:
		return fmt.Errorf("kube-proxy stopped: %v", err)
	case <-ctx.Done():
		return nil
	}
}
