package cli

import (
	"context"
	"os"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/configfile"
	"github.com/edgeos/edgeos/pkg/server"
	"github.com/urfave/cli/v2"
)

func agentCommand() *cli.Command {
	cfg := &agent.Config{}
	j := &agent.JoinConfig{}
	return &cli.Command{
		Name:         "agent",
		Usage:        "run a node that joins a server",
		OnUsageError: usageError,
		Before:       configfile.Apply,
		Flags: append([]cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "server", Usage: "the server to join, https://HOST:6443", EnvVars: append(envVar("server"), "EDGEOS_URL"), Destination: &j.Server},
			stringFlag("token", "", "join token (K10…) from the server", &j.Token),
			stringFlag("token-file", "", "file holding the join token", &j.TokenFile),
			dataDirFlag(&cfg.DataDir),
			nodeNameFlag(&j.NodeName),
			nodeIPFlag(&j.NodeIPs),
			debugFlag(&cfg.Debug),
		}, nodeOptionFlags(&cfg.Node)...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError(c, errUnexpectedArgs(c.Args().Slice()), true)
			}
			setupLogging(cfg.Debug)
			sizeMemory()
			if err := j.Validate(); err != nil {
				return err
			}
			if err := cfg.Node.Validate(); err != nil {
				return err
			}
			name, ips, err := server.NodeIdentity(j.NodeName, j.NodeIPs)
			if err != nil {
				return err
			}
			j.NodeName, j.NodeIPs = name, ips
			if os.Geteuid() != 0 {
				return errNotRoot
			}
			return runUntilSignal(func(ctx context.Context) error { return agent.RunAgent(ctx, *cfg, *j) })
		},
	}
}
