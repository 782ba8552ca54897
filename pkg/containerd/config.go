package containerd

import (
	"bytes"
	"text/template"
)

// configTemplate is containerd's config (version 4). Only what edgeos
// decides is set; the rest keeps containerd's defaults.
var configTemplate = template.Must(template.New("config.toml").Parse(`# Written by edgeos at every start; edit edgeos's flags, not this file.
version = 4
root = {{printf "%q" .Root}}
state = {{printf "%q" .State}}
# never the host's /etc/containerd
imports = []
# built in but unused: edgeos's containerd is built without btrfs, zfs,
# devmapper and tracing (see pkg/containerd/programs)
disabled_plugins = [
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
]

[plugins.'io.containerd.server.v1.grpc']
  address = {{printf "%q" .Address}}

[plugins.'io.containerd.server.v1.ttrpc']
  address = {{printf "%q" .TTRPCAddress}}

[debug]
  level = {{if .Debug}}"debug"{{else}}"warn"{{end}}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = {{printf "%q" .SandboxImage}}

{{.Registry}}
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # CPU samples behind the CRI's usage rate, which the kubelet's stats and
  # metrics report. containerd takes one per container and per pod every
  # second, each a call into that pod's shim; the kubelet's cAdvisor
  # samples every 10 s.
  stats_collect_period = "10s"
  restrict_oom_score_adj = {{.RestrictOOMScoreAdj}}
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      runtime_path = {{printf "%q" .ShimPath}}
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = {{.SystemdCgroup}}
        BinaryName = {{printf "%q" .RuncPath}}

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [{{printf "%q" .CNIBinDir}}]
  conf_dir = {{printf "%q" .CNIConfDir}}
`))

func (c Config) render() ([]byte, error) {
	var b bytes.Buffer
	err := configTemplate.Execute(&b, struct {
		Config
		Address, TTRPCAddress, ShimPath, RuncPath, Registry string
	}{c, c.Address(), c.Address() + ".ttrpc", c.shimPath(), c.runcPath(), c.Registries.CRIRegistry(c.CertsDir)})
	return b.Bytes(), err
}
