// Command shim is the runc shim edgeos embeds (pkg/containerd/programs):
// upstream's containerd-shim-runc-v2, which hands its program's start-up
// pages back to the kernel by itself (pkg/pageout), as edgeos and
// containerd do. A shim starts with each pod, at any time, so it does so
// on its own clock, a while after its own start (pageout.ShimAfterEnv),
// not at edgeos's signal. The shims of a node all run one file: only a
// page-out from inside each of them takes its pages out of its mappings.
package main

import (
	"context"
	"os"
	"time"

	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/manager"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/task/plugin"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/sirupsen/logrus"

	"github.com/edgeos/edgeos/pkg/pageout"
)

func main() {
	// The shim's commands that start or clean up a shim exit before it
	// is due; the one that serves a pod's containers stays.
	if after, err := time.ParseDuration(os.Getenv(pageout.ShimAfterEnv)); err == nil && after > 0 {
		time.AfterFunc(after, func() {
			if err := pageout.Self(); err != nil {
				logrus.WithError(err).Warn("paging out the shim's start-up pages")
			}
		})
	}
	shim.RunShim(context.Background(), manager.NewShimManager("io.containerd.runc.v2"))
}
