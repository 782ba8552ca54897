package ingress

import (
	"errors"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
	listersnetworkingv1 "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// listers read what routing tables are built from.
type listers struct {
	infs      []cache.SharedIndexInformer
	classes   listersnetworkingv1.IngressClassLister
	ingresses listersnetworkingv1.IngressLister
	services  listerscorev1.ServiceLister
	// slices is nil where endpoints do not matter (servicelb's claim)
	slices listersdiscoveryv1.EndpointSliceLister
}

func newListers(f informers.SharedInformerFactory, withEndpoints bool) *listers {
	l := &listers{
		classes:   f.Networking().V1().IngressClasses().Lister(),
		ingresses: f.Networking().V1().Ingresses().Lister(),
		services:  f.Core().V1().Services().Lister(),
	}
	l.infs = []cache.SharedIndexInformer{
		f.Networking().V1().IngressClasses().Informer(),
		f.Networking().V1().Ingresses().Informer(),
		f.Core().V1().Services().Informer(),
	}
	if withEndpoints {
		l.slices = f.Discovery().V1().EndpointSlices().Lister()
		l.infs = append(l.infs, f.Discovery().V1().EndpointSlices().Informer())
	}
	return l
}

// read returns the inputs (without certificates) and edgeos's class, nil
// when it does not exist.
func (l *listers) read() (Inputs, *networkingv1.IngressClass, error) {
	class, err := l.classes.Get(ClassName)
	if apierrors.IsNotFound(err) {
		class, err = nil, nil
	}
	ings, err1 := l.ingresses.List(labels.Everything())
	svcs, err2 := l.services.List(labels.Everything())
	var slices []*discoveryv1.EndpointSlice
	var err3 error
	if l.slices != nil {
		slices, err3 = l.slices.List(labels.Everything())
	}
	if err := errors.Join(err, err1, err2, err3); err != nil {
		return Inputs{}, nil, err
	}
	if class != nil && class.Spec.Controller != ControllerName {
		class = nil
	}
	return Inputs{Ingresses: Ours(ings, class), Services: svcs, Slices: slices}, class, nil
}
