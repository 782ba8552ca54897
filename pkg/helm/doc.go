// Package helm is edgeos's HelmChart controller: k3s's helm.cattle.io/v1
// HelmChart and HelmChartConfig, installed, upgraded and uninstalled by the
// server itself with the Helm SDK, with no job pod and no image.
//
// What a chart is installed with (its values, in k3s's order) is worked
// out by pure functions (Values, Digest); the controller compares the
// digest of what it last installed with what is asked now, and installs,
// upgrades or uninstalls only on a change, so that a release changed by
// hand (`edgeos helm rollback`) stays as it is until its HelmChart changes.
package helm
