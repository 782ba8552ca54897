package apilb

import (
	"context"
	"net"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Discover watches the kubernetes Service's EndpointSlices, where each
// server's apiserver keeps its address while it runs, for Config.Discover.
func Discover(cs kubernetes.Interface) func(ctx context.Context, found func([]string)) error {
	return func(ctx context.Context, found func([]string)) error {
		f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(metav1.NamespaceDefault),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.LabelSelector = discoveryv1.LabelServiceName + "=kubernetes"
			}))
		inf := f.Discovery().V1().EndpointSlices()
		report := func(any) {
			all, err := inf.Lister().List(labels.Everything())
			if err == nil {
				found(Servers(all))
			}
		}
		if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: report, DeleteFunc: report, UpdateFunc: func(_, o any) { report(o) },
		}); err != nil {
			return err
		}
		f.Start(ctx.Done())
		<-ctx.Done()
		f.Shutdown()
		return nil
	}
}

// Servers are the host:port of every address the slices name on their
// https port, unless marked not ready.
func Servers(all []*discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range all {
		var port int32
		for _, p := range s.Ports {
			if p.Port != nil && (p.Name == nil || *p.Name == "https") {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(int(port))))
			}
		}
	}
	return out
}
