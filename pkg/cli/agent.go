package cli

import (
	"context"
	"os"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/configfile"
	"github.com/urfave/cli/v2"
)

func agentCommand() *cli.Command {
	cfg := &config.Agent{}
	return &cli.Command{
		Name:         "agent",
		Usage:        "run a node that joins a server",
		OnUsageError: usageError,
		Before:       configfile.Apply,
		Flags: append([]cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "server", Usage: "the server to join, https://HOST:6443", EnvVars: append(envVar("server"), "EDGEOS_URL"), Destination: &cfg.Server},
			stringFlag("token", "", "join token (K10…) from the server", &cfg.Token),
			stringFlag("token-file", "", "file holding the join token", &cfg.TokenFile),
			dataDirFlag(&cfg.DataDir),
			nodeNameFlag(&cfg.NodeName),
			nodeIPFlag(&cfg.NodeIPs),
			&cli.IntFlag{Name: "lb-server-port", Value: 6444, Usage: "loopback port of the node's load balancer for the Kubernetes API, which the node's clients use to reach any server", EnvVars: envVar("lb-server-port"), Destination: &cfg.LBServerPort},
			stringFlag("metrics-bind-address", "127.0.0.1:10249", "IP:PORT where this node serves its Prometheus metrics, without authentication", &cfg.MetricsBindAddress),
		}, append(logFlags(&cfg.Debug, &cfg.Verbosity, &cfg.LogFormat), nodeOptionFlags(&cfg.Node)...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError(c, errUnexpectedArgs(c.Args().Slice()), true)
			}
			logs := logging{debug: cfg.Debug, verbosity: cfg.Verbosity, format: cfg.LogFormat}
			setupLogging(logs)
			sizeMemory()
			completed, err := cfg.Complete()
			if err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				return errNotRoot
			}
			own := ownLogs(completed.LogForward)
			return runNode(logs, own, func(ctx context.Context, ready func()) error { return agent.RunAgent(ctx, completed, ready, own) })
		},
	}
}
