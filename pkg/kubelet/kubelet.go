// Package kubelet runs the upstream kubelet inside the edgeos process.
//
// The kubelet is driven through its own command, with a KubeletConfiguration
// file edgeos writes and the flags edgeos decides: its config loading and
// flag precedence rules are not exported, and flags given through
// --kubelet-arg must keep their upstream meaning.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
)

// Kubelet is the component.
type Kubelet struct {
	args []string
}

// New prepares a kubelet that runs with args (--key=value).
func New(args []string) *Kubelet { return &Kubelet{args: args} }

func (k *Kubelet) Name() string { return "kubelet" }

// OutlivesStop: many of the kubelet's loops run on wait.NeverStop, until
// the process ends.
func (k *Kubelet) OutlivesStop() bool { return true }

// healthz is the kubelet's local health endpoint (healthzPort 10248).
const healthz = "http://127.0.0.1:10248/healthz"

// Run runs the kubelet and reports ready once its health endpoint answers.
// The kubelet stops on the process's SIGINT/SIGTERM, which it watches itself.
func (k *Kubelet) Run(ctx context.Context, ready func()) error {
	// cancel, then wait: what wg runs ends with ctx, also when Run fails
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			if resp, err := client.Get(healthz); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) == "ok" {
					ready()
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	cmd := kubeletapp.NewKubeletCommand(ctx)
	cmd.SetArgs(k.args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	// The kubelet ends cleanly on the stop signal, which it watches itself
	// and may see before edgeos does: a moment for edgeos's own stop, so
	// that the shutdown is not taken for a failure. Otherwise upstream
	// decided to stop (its lock file contended, say), and the node would go
	// on without a kubelet: edgeos ends, for its service manager to
	// restart it.
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(stopGrace):
		return errors.New("kubelet stopped on its own")
	}
}

// stopGrace is how long after the kubelet's clean end edgeos's own stop
// may come.
const stopGrace = 10 * time.Second
