package cli

import (
	"os"

	"github.com/edgeos/edgeos/pkg/checkconfig"
	"github.com/urfave/cli/v2"
)

func checkConfigCommand() *cli.Command {
	return &cli.Command{
		Name:         "check-config",
		Usage:        "report whether this host can run an edgeos node, and what is missing",
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			r := checkconfig.Check(checkconfig.Local())
			r.Write(os.Stdout)
			if r.Missing() > 0 {
				return cli.Exit("", 1) // the report already says why
			}
			return nil
		},
	}
}
