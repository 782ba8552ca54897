package metrics

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The annotation metrics-server honours moves a node's endpoint (kwok's
// simulated nodes); it cannot name another of the kubelet's paths.
func TestResourcePath(t *testing.T) {
	for ann, want := range map[string]string{
		"": "/metrics/resource", // no annotation
		"/metrics/nodes/kwok-node-0/metrics/resource": "/metrics/nodes/kwok-node-0/metrics/resource",
		"/logs/":                                  "",
		"/metrics/resource/../../logs/x":          "",
		"/logs/../metrics/resource":               "",
		"metrics/resource":                        "",
		"/x/metrics/resource?y=/metrics/resource": "",
		"/x%2F..%2Flogs/metrics/resource":         "",
		"//evil.example/metrics/resource":         "",
	} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
		if ann != "" {
			n.Annotations = map[string]string{ResourcePathAnnotation: ann}
		}
		got, err := resourcePath(n)
		switch {
		case want == "" && err == nil:
			t.Errorf("%q accepted as %q", ann, got)
		case want != "" && (err != nil || got != want):
			t.Errorf("%q: %q, %v; want %q", ann, got, err, want)
		}
	}
}
