// Package metrics serves the resource metrics API (metrics.k8s.io, what
// kubectl top and the HorizontalPodAutoscaler read) from the server
// process: a scraper reads each kubelet's /metrics/resource the way the
// apiserver reaches kubelets, a Store keeps the last two readings of each
// node and container in memory, and the API group is installed into the
// apiserver itself.
package metrics
