package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/manager"
	"github.com/containerd/containerd/v2/cmd/containerd/command"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"

	// containerd's built-in plugins (CRI, overlayfs, …) and the runc shim's task service
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/task/plugin"
	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins"
)

// Names under which the edgeos binary acts as containerd or its runc shim.
const (
	DaemonName = "containerd"
	ShimName   = "containerd-shim-runc-v2"
)

// Main runs containerd or the runc shim when this process was started as
// one of them, and never returns then. The shim re-executes itself through
// os.Executable, which names the edgeos binary, with "-namespace" as its
// first argument; that is recognised too.
func Main(args []string) {
	switch base := filepath.Base(args[0]); {
	case base == DaemonName:
		if err := command.App().Run(context.Background(), args); err != nil {
			fmt.Fprintln(os.Stderr, "containerd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case base == ShimName || (len(args) > 1 && args[1] == "-namespace"):
		keepOnlyShimPlugins()
		shim.RunShim(context.Background(), manager.NewShimManager("io.containerd.runc.v2"))
		os.Exit(0)
	}
}

// keepOnlyShimPlugins drops the daemon's plugins from the process-wide
// registry: a shim initialises every plugin registered in its process, and
// this binary registers containerd's too. What stays is what a standalone
// runc shim registers: its ttrpc task service.
func keepOnlyShimPlugins() {
	var keep []plugin.Registration
	for _, r := range registry.Graph(func(*plugin.Registration) bool { return false }) {
		if r.Type == plugins.TTRPCPlugin && r.ID == "task" {
			keep = append(keep, r)
		}
	}
	registry.Reset()
	for i := range keep {
		registry.Register(&keep[i])
	}
}
