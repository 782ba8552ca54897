// Command containerd is the containerd edgeos embeds (pkg/containerd/programs):
// upstream's command and built-in plugins, which hands its program's
// start-up pages back to the kernel by itself, as edgeos does its own
// (pkg/pageout), when edgeos sends it pageout.Signal at its own page-out. It
// does so itself because only a process's own mappings can be marked for
// random reads (MADV_RANDOM), which keeps the pages read back to those used.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/cmd/containerd/command"
	"github.com/edgeos/edgeos/pkg/pageout"

	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins"
)

func main() {
	pageout.OnSignal(func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "containerd: paging out start-up pages:", err)
			return
		}
		fmt.Fprintln(os.Stderr, "containerd: paged out start-up pages (what is still used comes back)")
	})
	if err := command.App().Run(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "containerd:", err)
		os.Exit(1)
	}
}
