// Package programs holds containerd, its runc shim and the pod network's
// CNI plugin as small programs of their own, built for the target
// architecture and embedded gzip-compressed. Run as the whole edgeos
// binary, each such process paid for every package edgeos links (the Go
// runtime initialising Kubernetes' API schemes and the binary's pages):
// about 40 MB per shim (one per pod), over 100 MB for containerd, and for
// the CNI plugin, executed twice for every pod sandbox set up or torn
// down, the start-up of the whole binary each time. On their own they cost
// a fraction of that. edgeos writes them to the node's bin dir at start.
package programs

import (
	_ "embed"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/cni/plugin"
	"github.com/edgeos/edgeos/pkg/embedded"
)

// containerd (upstream's, run by cmd/containerd, which pages itself out)
// without the snapshotters and tracing edgeos's config turns off anyway
// (btrfs needs cgo), stamped with its module version, which the CRI reports
// to the kubelet.
//go:generate sh -c "CGO_ENABLED=0 go build -trimpath -tags 'no_btrfs no_devmapper no_zfs no_tracing' -ldflags=\"-s -w -buildid= -X github.com/containerd/containerd/v2/version.Version=$(go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)\" -o containerd.bin github.com/edgeos/edgeos/cmd/containerd && gzip -9nf containerd.bin"
// The runc shim (upstream's, run by cmd/shim, which pages itself out).
//go:generate sh -c "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' -o shim.bin github.com/edgeos/edgeos/cmd/shim && gzip -9nf shim.bin"
// The pod network's CNI plugin (cmd/cni), also the loopback plugin.
//go:generate sh -c "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' -o cni.bin github.com/edgeos/edgeos/cmd/cni && gzip -9nf cni.bin"

// File names in the node's bin dir; containerd finds the shim and the CNI
// plugins (the network config's types) by their names.
const (
	Containerd = "containerd"
	Shim       = "containerd-shim-runc-v2"
	CNI        = plugin.Name
	Loopback   = plugin.LoopbackName
)

var (
	//go:embed containerd.bin.gz
	containerd []byte
	//go:embed shim.bin.gz
	shim []byte
	//go:embed cni.bin.gz
	cni []byte
)

// Install writes the programs to dir (see embedded.Install), and the
// loopback plugin as a link to the CNI plugin's program, which serves both.
func Install(dir string) error {
	for name, gz := range map[string][]byte{Containerd: containerd, Shim: shim, CNI: cni} {
		if err := embedded.Install(filepath.Join(dir, name), gz); err != nil {
			return err
		}
	}
	return embedded.Link(filepath.Join(dir, Loopback), CNI)
}
