package cli

import (
	"github.com/edgeos/edgeos/pkg/helmcmd"
	"github.com/urfave/cli/v2"
)

func helmCommand() *cli.Command {
	return &cli.Command{
		Name:            "helm",
		Usage:           "run the embedded Helm (defaults to the admin kubeconfig)",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			helmcmd.Run(c.Args().Slice())
			return nil
		},
	}
}
