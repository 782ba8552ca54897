package cli

import (
	"fmt"
	"path/filepath"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/images"
	"github.com/urfave/cli/v2"
)

func imagesCommand() *cli.Command {
	importCmd := &cli.Command{
		Name:         "import",
		Usage:        "import image archives (docker save or OCI; .tar, .tar.gz, .tar.zst) into this node, pinned",
		ArgsUsage:    "FILE...",
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("name at least one archive to import")
			}
			sock := agent.ContainerdAddress()
			client, err := containerd.New(sock, containerd.WithTimeout(5*time.Second))
			if err != nil {
				return fmt.Errorf("cannot reach this node's containerd at %s (is edgeos running here?): %w", sock, err)
			}
			defer client.Close()
			for _, f := range c.Args().Slice() {
				names, err := images.ImportFile(c.Context, client, f)
				if err != nil {
					return fmt.Errorf("%s: %w", filepath.Base(f), err)
				}
				for _, n := range names {
					fmt.Println(n)
				}
			}
			return nil
		},
	}
	return &cli.Command{Name: "images", Usage: "manage this node's images without a registry", Subcommands: []*cli.Command{importCmd}}
}
