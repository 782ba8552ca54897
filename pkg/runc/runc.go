// Package runc holds the runc edgeos ships: built statically, with
// seccomp, from the version pinned in packaging/runc, for the target
// architecture, and embedded gzip-compressed, so a node needs no runc of
// its own. edgeos writes it to the node's bin dir at start (Install) and
// containerd runs it from there.
package runc

import (
	_ "embed"

	"github.com/edgeos/edgeos/pkg/embedded"
)

//go:generate sh -c "cd ../../packaging/runc && CGO_ENABLED=1 go build -trimpath -tags 'seccomp netgo osusergo' -ldflags '-s -w -buildid= -linkmode external -extldflags -static' -o $PWD/runc.bin github.com/opencontainers/runc && gzip -9nf $PWD/runc.bin"

//go:embed runc.bin.gz
var compressed []byte

// Name is the program's file name in the node's bin dir.
const Name = "runc"

// Install writes runc to path (see embedded.Install).
func Install(path string) error { return embedded.Install(path, compressed) }
