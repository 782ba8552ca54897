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

	"github.com/sirupsen/logrus"
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

// OutlivesStop: upstream's kube-proxy cannot be stopped in-process. Its
// command runs the proxy server on a context of its own, and its
// informers, its Node watch and the iptables sync loop run on
// wait.NeverStop; so it runs until the process ends.
func (k *KubeProxy) OutlivesStop() bool { return true }

// Run runs kube-proxy and reports ready at once: kube-proxy first waits,
// without bound, for its Node in the API, and a node must start while the
// server is unreachable (the rules of the last run are still in the kernel
// meanwhile and keep Services working). A line is logged when kube-proxy's
// health server first answers. On stop, kube-proxy itself is left running
// until the process ends (OutlivesStop), and its rules stay in place, so
// Services keep working across an edgeos restart; Run's own loop ends.
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
	ready()
	serving := time.NewTicker(time.Second)
	defer serving.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("kube-proxy stopped: %v", err)
		case <-ctx.Done():
			return nil
		case <-serving.C:
			if resp, err := client.Get("http://" + HealthzAddress + "/healthz"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					logrus.Info("kube-proxy has programmed the Service rules")
					serving.Stop()
				}
			}
		}
	}
}
