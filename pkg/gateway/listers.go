package gateway

import (
	"errors"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"
)

// listers read what Build reads.
type listers struct {
	infs       []cache.SharedIndexInformer
	classes    gatewaylisters.GatewayClassLister
	gateways   gatewaylisters.GatewayLister
	routes     gatewaylisters.HTTPRouteLister
	grants     gatewaylisters.ReferenceGrantLister
	namespaces listerscorev1.NamespaceLister
	services   listerscorev1.ServiceLister
	slices     listersdiscoveryv1.EndpointSliceLister
}

func newListers(gw gatewayinformers.SharedInformerFactory, core informers.SharedInformerFactory) *listers {
	v1 := gw.Gateway().V1()
	l := &listers{
		classes:    v1.GatewayClasses().Lister(),
		gateways:   v1.Gateways().Lister(),
		routes:     v1.HTTPRoutes().Lister(),
		grants:     v1.ReferenceGrants().Lister(),
		namespaces: core.Core().V1().Namespaces().Lister(),
		services:   core.Core().V1().Services().Lister(),
		slices:     core.Discovery().V1().EndpointSlices().Lister(),
	}
	l.infs = []cache.SharedIndexInformer{
		v1.GatewayClasses().Informer(), v1.Gateways().Informer(), v1.HTTPRoutes().Informer(), v1.ReferenceGrants().Informer(),
		core.Core().V1().Namespaces().Informer(), core.Core().V1().Services().Informer(), core.Discovery().V1().EndpointSlices().Informer(),
	}
	return l
}

// read returns the inputs, without certificates and ports.
func (l *listers) read() (Inputs, error) {
	var in Inputs
	var errs [7]error
	all := labels.Everything()
	in.Classes, errs[0] = l.classes.List(all)
	in.Gateways, errs[1] = l.gateways.List(all)
	in.Routes, errs[2] = l.routes.List(all)
	in.Grants, errs[3] = l.grants.List(all)
	in.Namespaces, errs[4] = l.namespaces.List(all)
	in.Services, errs[5] = l.services.List(all)
	in.Slices, errs[6] = l.slices.List(all)
	return in, errors.Join(errs[:]...)
}
