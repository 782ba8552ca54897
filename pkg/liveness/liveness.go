// Package liveness watches that an in-process upstream component stays
// alive, the job a kubelet's liveness probe does for it in a kubeadm
// cluster: upstream relies on such a probe to restart a kube-apiserver
// whose /livez fails (its in-memory loopback certificate expires after
// three years of running, say). edgeos has no such probe over itself, so
// the watched component fails, edgeos exits non-zero and its service
// manager starts it again.
package liveness

import (
	"context"
	"fmt"
	"time"
)

// Watch runs check every period until ctx ends, and returns an error once
// check has failed failures times in a row.
func Watch(ctx context.Context, period time.Duration, failures int, check func(ctx context.Context) error) error {
	failed := 0
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, period)
		err := check(cctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			failed = 0
			continue
		}
		if failed++; failed >= failures {
			return fmt.Errorf("not live for %d checks %s apart: %w", failed, period, err)
		}
	}
}
