package metrics

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
)

var (
	nodesResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	podsResource  = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// NewObjects reads nodes' and pods' metadata through the API when asked,
// from the apiserver's watch cache (resourceVersion 0): a metrics request
// costs one cached list, and nothing is kept between requests.
func NewObjects(md metadata.Interface) Objects { return apiObjects{md} }

type apiObjects struct{ md metadata.Interface }

func (o apiObjects) Nodes(ctx context.Context, opts metav1.ListOptions) ([]metav1.ObjectMeta, error) {
	return o.list(ctx, o.md.Resource(nodesResource), opts)
}

func (o apiObjects) Node(ctx context.Context, name string) (metav1.ObjectMeta, error) {
	return o.get(ctx, o.md.Resource(nodesResource), name)
}

func (o apiObjects) Pods(ctx context.Context, namespace string, opts metav1.ListOptions) ([]metav1.ObjectMeta, error) {
	return o.list(ctx, o.md.Resource(podsResource).Namespace(namespace), opts)
}

func (o apiObjects) Pod(ctx context.Context, namespace, name string) (metav1.ObjectMeta, error) {
	return o.get(ctx, o.md.Resource(podsResource).Namespace(namespace), name)
}

func (apiObjects) list(ctx context.Context, r metadata.ResourceInterface, opts metav1.ListOptions) ([]metav1.ObjectMeta, error) {
	opts.ResourceVersion = "0"
	l, err := r.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := make([]metav1.ObjectMeta, len(l.Items))
	for i := range l.Items {
		out[i] = l.Items[i].ObjectMeta
	}
	return out, nil
}

func (apiObjects) get(ctx context.Context, r metadata.ResourceInterface, name string) (metav1.ObjectMeta, error) {
	m, err := r.Get(ctx, name, metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		return metav1.ObjectMeta{}, err
	}
	return m.ObjectMeta, nil
}
