// Package helmcmd is the Helm command line embedded in edgeos: `edgeos helm
// …`, or the edgeos binary called through a link named helm.
package helmcmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/edgeos/edgeos/pkg/helm"
	"github.com/edgeos/edgeos/pkg/kubectl"
	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

// Run runs helm with args (without the program name) and exits.
func Run(args []string) {
	kubectl.UseDefaultKubeconfig(args)
	kube.ManagedFieldsManager = helm.FieldManager
	cmd, err := helmcmd.NewRootCmd(os.Stdout, args, helmcmd.SetupLogging)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		var cerr helmcmd.CommandError
		if errors.As(err, &cerr) {
			os.Exit(cerr.ExitCode)
		}
		os.Exit(1)
	}
	os.Exit(0)
}
