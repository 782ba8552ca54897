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
	str := func(name, value, usage string, dst *string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: envVar(name), Destination: dst}
	}
	return &cli.Command{
		Name:         "agent",
		Usage:        "run a node that joins a server",
		OnUsageError: usageError,
		Before:       configfile.Apply,
		Flags: []cli.Flag{
			configFlag(),
			str("server", "", "the server to join, https://HOST:6443", &j.Server),
			str("token", "", "join token (K10…) from the server", &j.Token),
			str("token-file", "", "file holding the join token", &j.TokenFile),
			str("data-dir", "/var/lib/edgeos", "directory for all state (root-only)", &cfg.DataDir),
			str("node-name", "", "name of this node (default: hostname)", &j.NodeName),
			&cli.GenericFlag{Name: "node-ip", Usage: "IP address of this node (repeatable; default: the host's primary address)", EnvVars: envVar("node-ip"), Value: configfile.List{Dst: &j.NodeIPs}},
			&cli.BoolFlag{Name: "debug", Usage: "verbose logs", EnvVars: envVar("debug"), Destination: &cfg.Debug},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError(c, errUnexpectedArgs(c.Args().Slice()), true)
			}
			setupLogging(cfg.Debug)
			if err := j.Validate(); err != nil {
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
