package cli

import (
	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/configfile"
	"github.com/edgeos/edgeos/pkg/pageout"
	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/urfave/cli/v2"
)

// Flag constructors: every flag binds straight to a field of a component's
// config and can also come from EDGEOS_<NAME> and the config file.

func stringFlag(name, value, usage string, dst *string) cli.Flag {
	return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: envVar(name), Destination: dst}
}

func listFlag(name, usage string, dst *[]string) cli.Flag {
	return &cli.GenericFlag{Name: name, Usage: usage, EnvVars: envVar(name), Value: configfile.List{Dst: dst}}
}

// argsFlag is a repeatable flag for an upstream component, key=value,
// kept whole: its value may hold commas (feature-gates=A=true,B=false).
func argsFlag(name, usage string, dst *[]string) cli.Flag {
	return &cli.GenericFlag{Name: name, Usage: usage, EnvVars: envVar(name), Value: configfile.Args{Dst: dst}}
}

func boolFlag(name, usage string, dst *bool) cli.Flag {
	return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: envVar(name), Destination: dst}
}

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: configfile.Default, EnvVars: envVar("config-file"),
		Usage: "YAML file of flag values (flags and environment win over it)"}
}

// The flags every node has, on `server` and `agent` alike.

func dataDirFlag(dst *string) cli.Flag {
	return stringFlag("data-dir", "/var/lib/edgeos", "directory for all state (root-only)", dst)
}

func nodeNameFlag(dst *string) cli.Flag {
	return stringFlag("node-name", "", "name of this node (default: hostname)", dst)
}

func nodeIPFlag(dst *[]string) cli.Flag {
	return listFlag("node-ip", "IP address of this node (repeatable; default: the host's primary address)", dst)
}

// logFlags are --debug, -v and --log-format.
func logFlags(debug *bool, v *int, format *string) []cli.Flag {
	return []cli.Flag{
		boolFlag("debug", "every log line: edgeos's debug messages, containerd's, and the upstream components' unfiltered", debug),
		&cli.IntFlag{Name: "v", Usage: "the upstream components' log verbosity (klog -v); above 0, every line is shown as with --debug", EnvVars: envVar("v"), Destination: v},
		stringFlag("log-format", "text", "log format: text, or json (one object a line, for log collectors)", format),
	}
}

// nodeOptionFlags are the node flags beyond identity and data dir.
func nodeOptionFlags(o *config.Node) []cli.Flag {
	return []cli.Flag{
		listFlag("node-label", "label for this node, key=value (repeatable)", &o.Labels),
		listFlag("node-taint", "taint for this node, key=value:Effect (repeatable)", &o.Taints),
		argsFlag("kubelet-arg", "flag for the kubelet, key=value (repeatable); it wins over edgeos's own", &o.KubeletArgs),
		argsFlag("kube-proxy-arg", "flag for kube-proxy, key=value (repeatable); it wins over edgeos's own", &o.KubeProxyArgs),
		stringFlag("cni", config.CNIEdgeos, "pod network: edgeos (bridge and VXLAN overlay) or none (bring your own CNI)", &o.CNI),
		stringFlag("overlay-iface", "", "interface the VXLAN overlay uses (default: the one holding the node IP)", &o.OverlayIface),
		stringFlag("resolv-conf", "", "resolv.conf naming the upstream resolvers of the cluster DNS and of pods with dnsPolicy Default (default: the host's)", &o.ResolvConf),
		stringFlag("local-storage-path", "", "directory of this node's local-path volumes (default: <data-dir>/storage)", &o.LocalStoragePath),
		&cli.DurationFlag{Name: "pageout-after", Value: pageout.DefaultAfter, EnvVars: envVar("pageout-after"), Destination: &o.PageOutAfter,
			Usage: "when after start-up edgeos hands the pages only its start-up used back to the kernel (0: never)"},
		stringFlag("node-external-ip", "", "address other nodes reach this node at, for nodes behind NAT (default: the node IP)", &o.ExternalIP),
		boolFlag("disable-ingress-proxy", "keep this node out of the ingress: its proxy does not listen", &o.DisableIngressProxy),
		stringFlag("log-forward", "", "ship this node's container logs and edgeos's own to a Loki push URL (…/loki/api/v1/push) or an OpenTelemetry logs URL (OTLP/HTTP, …/v1/logs); user:password@ in the URL is sent as basic auth", &o.LogForward),
		stringFlag("log-forward-buffer", "64Mi", "cap of the disk buffer of log lines waiting to be shipped (Ki, Mi, Gi); past it the oldest are dropped and counted", &o.LogForwardBuffer),
		stringFlag("private-registry", "", "registries.yaml, k3s's format: mirrors, credentials and TLS per registry (default: "+registries.Default+" where it exists)", &o.PrivateRegistry),
	}
}
