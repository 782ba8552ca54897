package server

import (
	"context"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/metrics"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// resourceMetrics is metrics.k8s.io: the group the apiserver serves and
// the components that feed and register it. With metrics off, only a
// component that takes edgeos's registration away.
type resourceMetrics struct {
	group      *genericapiserver.APIGroupInfo
	components []component.Component
}

func (s *Server) resourceMetrics(cs kubernetes.Interface) (resourceMetrics, error) {
	c, err := kubeconfig.Connect(s.paths.kubeconfig("admin"))
	if err != nil {
		return resourceMetrics{}, err
	}
	var ac aggregator.Interface
	component.Shared(func() { ac, err = aggregator.NewForConfig(c.REST) })
	if err != nil {
		return resourceMetrics{}, err
	}
	if s.cfg.Disabled("metrics") {
		return resourceMetrics{components: []component.Component{
			component.Once("metrics-apiservice-removal", func(ctx context.Context) error { return metrics.RemoveAPIService(ctx, ac) }),
		}}, nil
	}
	// Each metrics request lists its nodes or pods once through this
	// client: client-go's default 5 requests/s would queue an autoscaler
	// behind kubectl top. The apiserver's own flow control still applies.
	rc := rest.CopyConfig(c.REST)
	rc.QPS, rc.Burst = 50, 100
	var md metadata.Interface
	component.Shared(func() { md, err = metadata.NewForConfig(rc) })
	if err != nil {
		return resourceMetrics{}, err
	}
	store := metrics.NewStore()
	group, err := metrics.APIGroup(store, metrics.NewObjects(md))
	if err != nil {
		return resourceMetrics{}, err
	}
	scraper := metrics.NewScraper(metrics.ScraperConfig{
		Resolution: s.cfg.MetricsResolution,
		// the apiserver's own credentials for kubelets
		KubeletCA:  s.certs.kubeletCA.CertFile,
		ClientCert: s.certs.crt("client-kube-apiserver"),
		ClientKey:  s.certs.key("client-kube-apiserver"),
	}, cs, store)
	return resourceMetrics{group: group, components: []component.Component{
		scraper,
		component.Once("metrics-apiservice", func(ctx context.Context) error { return metrics.EnsureAPIService(ctx, ac, cs) }),
	}}, nil
}
