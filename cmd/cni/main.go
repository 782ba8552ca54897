// Command cni is the pod network plugin edgeos embeds
// (pkg/containerd/programs): containerd executes it, as edgeos-bridge or
// loopback, for every pod sandbox it sets up or tears down. A program of
// its own starts in a few milliseconds; the edgeos binary would first
// initialise every package it links.
package main

import (
	"os"

	"github.com/edgeos/edgeos/pkg/cni/plugin"
)

func main() { os.Exit(plugin.Main(os.Args)) }
