// Command containerd is the containerd edgeos embeds (pkg/containerd/programs):
// upstream's command and built-in plugins, which hands its program's
// start-up pages back to the kernel by itself, as edgeos does its own
// (pkg/pageout), when EDGEOS_PAGEOUT_AFTER holds a delay. It does so itself
// because only a process's own mappings can be marked for random reads
// (MADV_RANDOM), which keeps the pages read back to those used.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/containerd/containerd/v2/cmd/containerd/command"
	"github.com/edgeos/edgeos/pkg/pageout"

	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins"
)

func main() {
	if after, err := time.ParseDuration(os.Getenv(pageout.AfterEnv)); err == nil && after > 0 {
		go func() {
			time.Sleep(after)
			if err := pageout.Self(); err != nil {
				fmt.Fprintln(os.Stderr, "containerd: paging out start-up pages:", err)
				return
			}
			fmt.Fprintln(os.Stderr, "containerd: paged out start-up pages (what is still used comes back)")
		}()
	}
	if err := command.App().Run(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "containerd:", err)
		os.Exit(1)
	}
}
