package cli

import (
	"context"
	"os"
	"time"

	"github.com/edgeos/edgeos/pkg/configfile"
	"github.com/edgeos/edgeos/pkg/server"
	"github.com/urfave/cli/v2"
)

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: configfile.Default, EnvVars: envVar("config-file"),
		Usage: "YAML file of flag values (flags and environment win over it)"}
}

// serverFlags binds every server flag to a field of cfg.
func serverFlags(cfg *server.Config) []cli.Flag {
	str := func(name, value, usage string, dst *string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: envVar(name), Destination: dst}
	}
	list := func(name, usage string, dst *[]string) cli.Flag {
		return &cli.GenericFlag{Name: name, Usage: usage, EnvVars: envVar(name), Value: configfile.List{Dst: dst}}
	}
	boolean := func(name, usage string, dst *bool) cli.Flag {
		return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: envVar(name), Destination: dst}
	}
	return []cli.Flag{
		configFlag(),
		str("data-dir", "/var/lib/edgeos", "directory for all state (root-only)", &cfg.DataDir),
		str("write-kubeconfig", "/etc/edgeos/edgeos.yaml", "where to write the admin kubeconfig (empty: don't)", &cfg.WriteKubeconfig),
		str("write-kubeconfig-mode", "0600", "file mode of the admin kubeconfig, octal", &cfg.WriteKubeconfigMode),
		&cli.IntFlag{Name: "https-listen-port", Value: 6443, Usage: "port of the Kubernetes API and node bootstrap API", EnvVars: envVar("https-listen-port"), Destination: &cfg.HTTPSListenPort},
		str("bind-address", "0.0.0.0", "address the API listens on", &cfg.BindAddress),
		str("advertise-address", "", "address the API tells nodes and clients (default: first node IP)", &cfg.AdvertiseAddress),
		list("node-ip", "IP address of this node (repeatable; default: the host's primary address)", &cfg.NodeIPs),
		str("node-name", "", "name of this node (default: hostname)", &cfg.NodeName),
		list("tls-san", "extra hostname or IP for the API serving certificate (repeatable)", &cfg.TLSSANs),
		str("cluster-cidr", "10.42.0.0/16", "pod network", &cfg.ClusterCIDR),
		str("service-cidr", "10.43.0.0/16", "Service ClusterIP network", &cfg.ServiceCIDR),
		str("cluster-dns", "10.43.0.10", "ClusterIP of the cluster DNS", &cfg.ClusterDNS),
		str("cluster-domain", "cluster.local", "cluster DNS domain", &cfg.ClusterDomain),
		str("token", "", "join token or secret for this server (default: generated)", &cfg.Token),
		str("token-file", "", "file holding the join token", &cfg.TokenFile),
		str("datastore-endpoint", "", "postgres://, mysql:// or http(s):// etcd endpoint (default: embedded SQLite)", &cfg.Datastore.Endpoint),
		str("datastore-cafile", "", "CA bundle of the datastore", &cfg.Datastore.CAFile),
		str("datastore-certfile", "", "client certificate for the datastore", &cfg.Datastore.CertFile),
		str("datastore-keyfile", "", "client key for the datastore", &cfg.Datastore.KeyFile),
		&cli.DurationFlag{Name: "datastore-connect-timeout", Value: 30 * time.Second, Usage: "how long to wait for an external datastore to answer", EnvVars: envVar("datastore-connect-timeout"), Destination: &cfg.Datastore.ConnectTimeout},
		boolean("disable-agent", "run the control plane only, no node", &cfg.DisableAgent),
		list("disable", "bundled part to turn off: dns, servicelb, local-storage (repeatable)", &cfg.Disable),
		boolean("debug", "verbose logs", &cfg.Debug),
	}
}

func serverCommand() *cli.Command {
	cfg := &server.Config{}
	return &cli.Command{
		Name:         "server",
		Usage:        "run the control plane (and, by default, a node)",
		Flags:        serverFlags(cfg),
		OnUsageError: usageError,
		Before:       configfile.Apply,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError(c, errUnexpectedArgs(c.Args().Slice()), true)
			}
			setupLogging(cfg.Debug)
			if err := cfg.Validate(); err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				return errNotRoot
			}
			return runUntilSignal(func(ctx context.Context) error { return server.Run(ctx, cfg) })
		},
	}
}
