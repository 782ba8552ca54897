package metrics

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/metrics/pkg/apis/metrics"
	"k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Objects lists the metadata of the nodes and pods the API reports on:
// their names and labels, which select them.
type Objects interface {
	Nodes(ctx context.Context, opts metav1.ListOptions) ([]metav1.ObjectMeta, error)
	Node(ctx context.Context, name string) (metav1.ObjectMeta, error)
	Pods(ctx context.Context, namespace string, opts metav1.ListOptions) ([]metav1.ObjectMeta, error)
	Pod(ctx context.Context, namespace, name string) (metav1.ObjectMeta, error)
}

// APIGroup is metrics.k8s.io/v1beta1 served from store, for an apiserver
// to install as one of its own groups: requests reach it through the
// apiserver's own authentication and authorization, and no network path
// to another server is involved.
func APIGroup(store *Store, objects Objects) (*genericapiserver.APIGroupInfo, error) {
	scheme := runtime.NewScheme()
	if err := metrics.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := scheme.SetVersionPriority(v1beta1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	// what every API group answers with, unversioned
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	scheme.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})

	info := genericapiserver.NewDefaultAPIGroupInfo(metrics.GroupName, scheme, runtime.NewParameterCodec(scheme), serializer.NewCodecFactory(scheme))
	info.VersionedResourcesStorageMap[v1beta1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"nodes": &nodeMetrics{store: store, objects: objects},
		"pods":  &podMetrics{store: store, objects: objects},
	}
	return &info, nil
}

// nodeMetrics is the nodes resource: NodeMetrics, cluster-scoped.
type nodeMetrics struct {
	store   *Store
	objects Objects
}

var (
	_ rest.Storage              = (*nodeMetrics)(nil)
	_ rest.Getter               = (*nodeMetrics)(nil)
	_ rest.Lister               = (*nodeMetrics)(nil)
	_ rest.Scoper               = (*nodeMetrics)(nil)
	_ rest.KindProvider         = (*nodeMetrics)(nil)
	_ rest.SingularNameProvider = (*nodeMetrics)(nil)
)

func (*nodeMetrics) New() runtime.Object     { return &metrics.NodeMetrics{} }
func (*nodeMetrics) NewList() runtime.Object { return &metrics.NodeMetricsList{} }
func (*nodeMetrics) Destroy()                {}
func (*nodeMetrics) NamespaceScoped() bool   { return false }
func (*nodeMetrics) Kind() string            { return "NodeMetrics" }
func (*nodeMetrics) GetSingularName() string { return "node" }
func (m *nodeMetrics) metricsOf(meta metav1.ObjectMeta) (metrics.NodeMetrics, bool) {
	u, ok := m.store.Node(meta.Name)
	if !ok {
		return metrics.NodeMetrics{}, false
	}
	return metrics.NodeMetrics{
		ObjectMeta: objectMeta(meta),
		Timestamp:  metav1.NewTime(u.Time),
		Window:     metav1.Duration{Duration: u.Window},
		Usage:      resources(u),
	}, true
}

func (m *nodeMetrics) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	nodes, err := m.objects.Nodes(ctx, listOptions(opts))
	if err != nil {
		return nil, err
	}
	out := &metrics.NodeMetricsList{Items: []metrics.NodeMetrics{}}
	for _, n := range nodes {
		if nm, ok := m.metricsOf(n); ok {
			out.Items = append(out.Items, nm)
		}
	}
	return out, nil
}

func (m *nodeMetrics) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	meta, err := m.objects.Node(ctx, name)
	if err != nil {
		return nil, err
	}
	nm, ok := m.metricsOf(meta)
	if !ok {
		return nil, apierrors.NewNotFound(metrics.Resource("nodemetrics"), name)
	}
	return &nm, nil
}

func (m *nodeMetrics) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	var items []metrics.NodeMetrics
	switch o := obj.(type) {
	case *metrics.NodeMetricsList:
		items = o.Items
	case *metrics.NodeMetrics:
		items = []metrics.NodeMetrics{*o}
	default:
		return nil, fmt.Errorf("no table of %T", obj)
	}
	t := &metav1.Table{ColumnDefinitions: columns}
	for i := range items {
		t.Rows = append(t.Rows, row(&items[i], items[i].Name, items[i].Usage, items[i].Window))
	}
	return t, nil
}

// podMetrics is the pods resource: PodMetrics, namespaced.
type podMetrics struct {
	store   *Store
	objects Objects
}

var (
	_ rest.Storage              = (*podMetrics)(nil)
	_ rest.Getter               = (*podMetrics)(nil)
	_ rest.Lister               = (*podMetrics)(nil)
	_ rest.Scoper               = (*podMetrics)(nil)
	_ rest.KindProvider         = (*podMetrics)(nil)
	_ rest.SingularNameProvider = (*podMetrics)(nil)
)

func (*podMetrics) New() runtime.Object     { return &metrics.PodMetrics{} }
func (*podMetrics) NewList() runtime.Object { return &metrics.PodMetricsList{} }
func (*podMetrics) Destroy()                {}
func (*podMetrics) NamespaceScoped() bool   { return true }
func (*podMetrics) Kind() string            { return "PodMetrics" }
func (*podMetrics) GetSingularName() string { return "pod" }

func (m *podMetrics) metricsOf(meta metav1.ObjectMeta) (metrics.PodMetrics, bool) {
	cs, ok := m.store.Pod(meta.Namespace, meta.Name)
	if !ok {
		return metrics.PodMetrics{}, false
	}
	pm := metrics.PodMetrics{ObjectMeta: objectMeta(meta)}
	for _, c := range cs {
		// the pod's moment is its latest reading, over its longest window
		if c.Time.After(pm.Timestamp.Time) {
			pm.Timestamp = metav1.NewTime(c.Time)
		}
		if c.Window > pm.Window.Duration {
			pm.Window.Duration = c.Window
		}
		pm.Containers = append(pm.Containers, metrics.ContainerMetrics{Name: c.Name, Usage: resources(c.Usage)})
	}
	return pm, true
}

func (m *podMetrics) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	pods, err := m.objects.Pods(ctx, genericapirequest.NamespaceValue(ctx), listOptions(opts))
	if err != nil {
		return nil, err
	}
	out := &metrics.PodMetricsList{Items: []metrics.PodMetrics{}}
	for _, p := range pods {
		if pm, ok := m.metricsOf(p); ok {
			out.Items = append(out.Items, pm)
		}
	}
	return out, nil
}

func (m *podMetrics) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	meta, err := m.objects.Pod(ctx, genericapirequest.NamespaceValue(ctx), name)
	if err != nil {
		return nil, err
	}
	pm, ok := m.metricsOf(meta)
	if !ok {
		return nil, apierrors.NewNotFound(metrics.Resource("podmetrics"), name)
	}
	return &pm, nil
}

func (m *podMetrics) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	var items []metrics.PodMetrics
	switch o := obj.(type) {
	case *metrics.PodMetricsList:
		items = o.Items
	case *metrics.PodMetrics:
		items = []metrics.PodMetrics{*o}
	default:
		return nil, fmt.Errorf("no table of %T", obj)
	}
	t := &metav1.Table{ColumnDefinitions: columns}
	for i := range items {
		sum := corev1.ResourceList{}
		for _, c := range items[i].Containers {
			for r, q := range c.Usage {
				total := sum[r]
				total.Add(q)
				sum[r] = total
			}
		}
		t.Rows = append(t.Rows, row(&items[i], items[i].Name, sum, items[i].Window))
	}
	return t, nil
}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "CPU", Type: "string"},
	{Name: "Memory", Type: "string"},
	{Name: "Window", Type: "string"},
}

func row(obj runtime.Object, name string, usage corev1.ResourceList, window metav1.Duration) metav1.TableRow {
	cpu, mem := usage[corev1.ResourceCPU], usage[corev1.ResourceMemory]
	return metav1.TableRow{
		Cells:  []any{name, cpu.String(), mem.String(), window.Duration.String()},
		Object: runtime.RawExtension{Object: obj},
	}
}

// objectMeta is what a metrics object keeps of its node's or pod's
// metadata: who it is and the labels it is selected by.
func objectMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels, CreationTimestamp: metav1.NewTime(time.Now())}
}

func resources(u Usage) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(u.CPU*1e9), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(u.Memory), resource.BinarySI),
	}
}

// listOptions passes the selectors on to the list of nodes or pods: a
// metrics object carries its object's name and labels.
func listOptions(opts *metainternalversion.ListOptions) metav1.ListOptions {
	var out metav1.ListOptions
	if opts == nil {
		return out
	}
	if opts.LabelSelector != nil {
		out.LabelSelector = opts.LabelSelector.String()
	}
	if opts.FieldSelector != nil {
		out.FieldSelector = opts.FieldSelector.String()
	}
	return out
}
