package cli

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/configfile"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/server"
	"github.com/urfave/cli/v2"
)

// serverFlags binds every server flag to a field of cfg.
func serverFlags(cfg *config.Server) []cli.Flag {
	return append([]cli.Flag{
		configFlag(),
		dataDirFlag(&cfg.DataDir),
		stringFlag("write-kubeconfig", "/etc/edgeos/edgeos.yaml", "where to write the admin kubeconfig (empty: don't)", &cfg.WriteKubeconfig),
		stringFlag("write-kubeconfig-mode", "0600", "file mode of the admin kubeconfig, octal", &cfg.WriteKubeconfigMode),
		&cli.IntFlag{Name: "https-listen-port", Value: 6443, Usage: "port of the Kubernetes API and node bootstrap API", EnvVars: envVar("https-listen-port"), Destination: &cfg.HTTPSListenPort},
		stringFlag("bind-address", "0.0.0.0", "address the API listens on", &cfg.BindAddress),
		stringFlag("advertise-address", "", "address the API tells nodes and clients (default: first node IP)", &cfg.AdvertiseAddress),
		nodeIPFlag(&cfg.NodeIPs),
		nodeNameFlag(&cfg.NodeName),
		listFlag("tls-san", "extra hostname or IP for the API serving certificate (repeatable)", &cfg.TLSSANs),
		stringFlag("cluster-cidr", "10.42.0.0/16", "pod network", &cfg.ClusterCIDR),
		stringFlag("service-cidr", "10.43.0.0/16", "Service ClusterIP network", &cfg.ServiceCIDR),
		stringFlag("cluster-dns", "10.43.0.10", "ClusterIP of the cluster DNS", &cfg.ClusterDNS),
		stringFlag("cluster-domain", "cluster.local", "cluster DNS domain", &cfg.ClusterDomain),
		stringFlag("token", "", "join token or secret for this server (default: generated)", &cfg.Token),
		stringFlag("token-file", "", "file holding the join token", &cfg.TokenFile),
		stringFlag("datastore-endpoint", "", "postgres://, mysql:// or http(s):// etcd endpoint (default: embedded SQLite)", &cfg.Datastore.Endpoint),
		stringFlag("datastore-cafile", "", "CA bundle of the datastore", &cfg.Datastore.CAFile),
		stringFlag("datastore-certfile", "", "client certificate for the datastore", &cfg.Datastore.CertFile),
		stringFlag("datastore-keyfile", "", "client key for the datastore", &cfg.Datastore.KeyFile),
		&cli.DurationFlag{Name: "datastore-connect-timeout", Value: 30 * time.Second, Usage: "how long to wait for an external datastore to answer", EnvVars: envVar("datastore-connect-timeout"), Destination: &cfg.Datastore.ConnectTimeout},
		&cli.DurationFlag{Name: "certificate-lifetime", Value: pki.LeafValidity, Usage: "how long the certificates the server signs are valid; each is renewed when a quarter of it (at most 90 days) is left", EnvVars: envVar("certificate-lifetime"), Destination: &cfg.CertificateLifetime},
		&cli.BoolFlag{Name: "secrets-encryption", Value: true, Usage: "encrypt Secrets at rest from the first start (afterwards: 'edgeos secrets-encrypt')", EnvVars: envVar("secrets-encryption"), Destination: &cfg.SecretsEncryption},
		stringFlag("snapshot-schedule", "0 */12 * * *", "when to snapshot the embedded datastore: cron, or @every 6h", &cfg.SnapshotSchedule),
		&cli.IntFlag{Name: "snapshot-retention", Value: 5, Usage: "how many scheduled snapshots to keep", EnvVars: envVar("snapshot-retention"), Destination: &cfg.SnapshotRetention},
		stringFlag("snapshot-dir", "", "where snapshots go (default: <data-dir>/server/db/snapshots)", &cfg.SnapshotDir),
		boolFlag("disable-snapshots", "take no scheduled snapshots", &cfg.DisableSnapshots),
		boolFlag("cluster-reset", "with --restore-path: restore that snapshot, then end", &cfg.ClusterReset),
		stringFlag("restore-path", "", "snapshot to restore (with --cluster-reset)", &cfg.RestorePath),
		stringFlag("manifests-dir", "", "auto-deploy directory: its manifest files are applied and kept applied (default: <data-dir>/server/manifests)", &cfg.ManifestsDir),
		&cli.DurationFlag{Name: "metrics-resolution", Value: 15 * time.Second, Usage: "how often the resource metrics (kubectl top, autoscaling) are read from every kubelet", EnvVars: envVar("metrics-resolution"), Destination: &cfg.MetricsResolution},
		boolFlag("disable-helm-controller", "leave HelmCharts alone (manifests are still applied)", &cfg.DisableHelmController),
		boolFlag("disable-agent", "run the control plane only, no node", &cfg.DisableAgent),
		boolFlag("embedded-registry", "every node serves the images it holds to the cluster's other nodes, which try them before the registries that registries.yaml mirrors", &cfg.EmbeddedRegistry),
		listFlag("disable", "bundled part to turn off: "+strings.Join(config.Parts, ", ")+" (repeatable)", &cfg.Disable),
		boolFlag("gateway-api", "every node's ingress proxy serves the Gateway API too (installs its CRDs, which cost the API server about 25 MB)", &cfg.GatewayAPI),
		stringFlag("gateway-addresses", "", "IPv4 addresses on the nodes' network (CIDRs, first-last ranges or addresses, comma-separated) to give each Gateway one of its own, held by one node at a time; without: Gateways share the nodes' addresses", &cfg.GatewayAddresses),
		&cli.IntFlag{Name: "ingress-http-port", Value: 80, Usage: "port every node's ingress proxy serves HTTP on", EnvVars: envVar("ingress-http-port"), Destination: &cfg.IngressHTTPPort},
		&cli.IntFlag{Name: "ingress-https-port", Value: 443, Usage: "port every node's ingress proxy serves HTTPS on", EnvVars: envVar("ingress-https-port"), Destination: &cfg.IngressHTTPSPort},
		argsFlag("kube-apiserver-arg", "flag for kube-apiserver, key=value (repeatable); it wins over edgeos's own", &cfg.APIServerArgs),
		argsFlag("kube-controller-manager-arg", "flag for kube-controller-manager, key=value (repeatable); it wins over edgeos's own", &cfg.ControllerManagerArgs),
		argsFlag("kube-scheduler-arg", "flag for kube-scheduler, key=value (repeatable); it wins over edgeos's own", &cfg.SchedulerArgs),
	}, append(logFlags(&cfg.Debug, &cfg.Verbosity, &cfg.LogFormat), nodeOptionFlags(&cfg.Node)...)...)
}

func serverCommand() *cli.Command {
	cfg := &config.Server{}
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
			return runNode(logs, own, func(ctx context.Context, ready func()) error { return server.Run(ctx, completed, ready, own) })
		},
	}
}
