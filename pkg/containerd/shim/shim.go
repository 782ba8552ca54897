// Package shim holds containerd's runc shim as a small program of its own,
// built from the containerd module for the target architecture and
// embedded gzip-compressed. A shim runs beside every pod for the pod's
// life: run as the whole edgeos binary, each one cost about 40 MB (the Go
// runtime initialising every package edgeos links); on its own it costs a
// few. edgeos writes it to the node's bin dir at start (Install).
package shim

import (
	_ "embed"

	"github.com/edgeos/edgeos/pkg/embedded"
)

//go:generate sh -c "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' -o shim.bin github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 && gzip -9nf shim.bin"

//go:embed shim.bin.gz
var compressed []byte

// Install writes the shim to path (see embedded.Install).
func Install(path string) error { return embedded.Install(path, compressed) }
