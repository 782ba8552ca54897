// Command edgeos is the single edgeos binary. Called as kubectl or helm
// (through a link) it is those; otherwise it is the edgeos command line.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/cli"
	"github.com/edgeos/edgeos/pkg/helmcmd"
	"github.com/edgeos/edgeos/pkg/kubectl"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case "kubectl":
		kubectl.Run(os.Args[1:])
	case "helm":
		helmcmd.Run(os.Args[1:])
	}
	if err := cli.New().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "edgeos: error: %v\n", err)
		os.Exit(1)
	}
}
