package cli

import (
	"github.com/edgeos/edgeos/pkg/kubectl"
	"github.com/urfave/cli/v2"
)

func kubectlCommand() *cli.Command {
	return &cli.Command{
		Name:            "kubectl",
		Usage:           "run the embedded kubectl (defaults to the admin kubeconfig)",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			kubectl.Run(c.Args().Slice())
			return nil
		},
	}
}
