package metrics

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/metrics/pkg/apis/metrics"
	"k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// objects is a fixed set of nodes and pods; it records the options it was
// listed with, which the apiserver applies in the real one.
type objects struct {
	nodes, pods []metav1.ObjectMeta
	listed      metav1.ListOptions
}

func (o *objects) Nodes(_ context.Context, opts metav1.ListOptions) ([]metav1.ObjectMeta, error) {
	o.listed = opts
	return o.nodes, nil
}

func (o *objects) Node(_ context.Context, name string) (metav1.ObjectMeta, error) {
	for _, n := range o.nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return metav1.ObjectMeta{}, apierrors.NewNotFound(corev1.Resource("nodes"), name)
}

func (o *objects) Pods(_ context.Context, namespace string, opts metav1.ListOptions) ([]metav1.ObjectMeta, error) {
	o.listed = opts
	var out []metav1.ObjectMeta
	for _, p := range o.pods {
		if namespace == "" || p.Namespace == namespace {
			out = append(out, p)
		}
	}
	return out, nil
}

func (o *objects) Pod(_ context.Context, namespace, name string) (metav1.ObjectMeta, error) {
	for _, p := range o.pods {
		if p.Namespace == namespace && p.Name == name {
			return p, nil
		}
	}
	return metav1.ObjectMeta{}, apierrors.NewNotFound(corev1.Resource("pods"), name)
}

// storeWith holds two readings 15 s apart of node n1 (0.5 cores, 1 GiB)
// and of demo/web-1's container app (0.1 cores, 64 MiB); n2 and demo/web-2
// have one reading only.
func storeWith() *Store {
	s := NewStore()
	for i, cpu := range []float64{10, 17.5} {
		s.Record("n1", Scrape{
			Node: Reading{Time: at(15 * i), CPU: cpu, Memory: 1 << 30},
			Containers: map[ContainerID]ContainerReading{
				app: {Reading: Reading{Time: at(15 * i), CPU: 1.5 * float64(i), Memory: 64 << 20}},
			},
		})
	}
	s.Record("n2", Scrape{
		Node:       Reading{Time: at(0), CPU: 1, Memory: 1},
		Containers: map[ContainerID]ContainerReading{{"demo", "web-2", "app"}: {Reading: Reading{Time: at(0), CPU: 1}}},
	})
	return s
}

func groupStorage(t *testing.T, o Objects) (nodes, pods rest.Storage) {
	t.Helper()
	info, err := APIGroup(storeWith(), o)
	if err != nil {
		t.Fatal(err)
	}
	m := info.VersionedResourcesStorageMap[v1beta1.SchemeGroupVersion.Version]
	return m["nodes"], m["pods"]
}

func TestNodeMetricsAPI(t *testing.T) {
	o := &objects{nodes: []metav1.ObjectMeta{{Name: "n1", Labels: map[string]string{"zone": "a"}}, {Name: "n2"}, {Name: "n3"}}}
	nodes, _ := groupStorage(t, o)
	sel, _ := labels.Parse("zone=a")
	obj, err := nodes.(rest.Lister).List(context.Background(), &metainternalversion.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	if o.listed.LabelSelector != "zone=a" {
		t.Errorf("nodes listed with %+v, want the label selector passed on", o.listed)
	}
	list := obj.(*metrics.NodeMetricsList)
	// n2 has one reading, n3 none: left out, not failing the list
	if len(list.Items) != 1 {
		t.Fatalf("items %+v", list.Items)
	}
	n1 := list.Items[0]
	cpu, mem := n1.Usage[corev1.ResourceCPU], n1.Usage[corev1.ResourceMemory]
	if n1.Name != "n1" || n1.Labels["zone"] != "a" || cpu.MilliValue() != 500 || mem.Value() != 1<<30 || n1.Window.Duration.Seconds() != 15 || !n1.Timestamp.Time.Equal(at(15)) {
		t.Errorf("n1: %+v", n1)
	}

	getter := nodes.(rest.Getter)
	for _, name := range []string{"n2", "n4"} {
		if _, err := getter.Get(context.Background(), name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get %s: %v, want not found", name, err)
		}
	}
	table, err := nodes.(rest.TableConvertor).ConvertToTable(context.Background(), obj, nil)
	if err != nil || len(table.Rows) != 1 || table.Rows[0].Cells[1] != "500m" || table.Rows[0].Cells[2] != "1Gi" {
		t.Errorf("table %+v %v", table, err)
	}
}

func TestPodMetricsAPI(t *testing.T) {
	o := &objects{pods: []metav1.ObjectMeta{
		{Namespace: "demo", Name: "web-1", Labels: map[string]string{"app": "web"}},
		{Namespace: "demo", Name: "web-2"},
		{Namespace: "other", Name: "web-1"},
	}}
	_, pods := groupStorage(t, o)
	ctx := genericapirequest.WithNamespace(context.Background(), "demo")
	obj, err := pods.(rest.Lister).List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list := obj.(*metrics.PodMetricsList)
	if len(list.Items) != 1 {
		t.Fatalf("items %+v", list.Items)
	}
	p := list.Items[0]
	if p.Namespace != "demo" || p.Name != "web-1" || p.Labels["app"] != "web" || len(p.Containers) != 1 || p.Containers[0].Name != "app" {
		t.Fatalf("pod %+v", p)
	}
	if cpu := p.Containers[0].Usage[corev1.ResourceCPU]; cpu.MilliValue() != 100 {
		t.Errorf("cpu %s", cpu.String())
	}
	// the same name in another namespace has no metrics of its own
	other := genericapirequest.WithNamespace(context.Background(), "other")
	if _, err := pods.(rest.Getter).Get(other, "web-1", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("other/web-1: %v, want not found", err)
	}
	if _, err := pods.(rest.Getter).Get(ctx, "web-1", &metav1.GetOptions{}); err != nil {
		t.Errorf("demo/web-1: %v", err)
	}
}
