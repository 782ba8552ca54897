// Package version holds the edgeos release and the Kubernetes version it embeds.
package version

// Version is set at link time (-X github.com/edgeos/edgeos/pkg/version.Version=...).
var Version = "v0.0.0-dev"

// Kubernetes is the upstream release whose components edgeos runs.
const Kubernetes = "v1.37.2"

// String is the one-line form printed by --version.
func String() string {
	return "edgeos " + Version + " (kubernetes " + Kubernetes + ")"
}
