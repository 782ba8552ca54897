// Package kubectl is the kubectl embedded in edgeos: `edgeos kubectl …`, or
// the edgeos binary called through a link named kubectl.
package kubectl

import (
	"fmt"
	"os"
	"strings"

	"github.com/edgeos/edgeos/pkg/server"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// DefaultKubeconfigs are tried, in order, when neither KUBECONFIG nor
// --kubeconfig says which cluster to talk to.
var DefaultKubeconfigs = []string{"/etc/edgeos/edgeos.yaml", server.AdminKubeconfig("/var/lib/edgeos")}

// UseDefaultKubeconfig points KUBECONFIG at the first of
// DefaultKubeconfigs that exists, unless KUBECONFIG or a --kubeconfig
// among args already says which cluster to talk to.
func UseDefaultKubeconfig(args []string) {
	if os.Getenv("KUBECONFIG") != "" || hasKubeconfigFlag(args) {
		return
	}
	for _, f := range DefaultKubeconfigs {
		if _, err := os.Stat(f); err == nil {
			os.Setenv("KUBECONFIG", f)
			return
		}
	}
}

// Run runs kubectl with args (without the program name) and exits.
func Run(args []string) {
	UseDefaultKubeconfig(args)
	if err := applyCRDsFirst(args); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	// kubectl reads its arguments (and plugin names) from os.Args; this
	// process is kubectl from here on.
	os.Args = append([]string{"kubectl"}, args...)
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) //nolint:errcheck
	cmd := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(cmd); err != nil {
		cmdutil.CheckErr(err)
	}
	os.Exit(0)
}

func hasKubeconfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return true
		}
	}
	return false
}
