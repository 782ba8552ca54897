package manifests

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/edgeos/edgeos/pkg/crd"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// applier writes objects of any kind the API serves.
type applier struct {
	dc     dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	// refreshed: the kinds were read again in this pass
	refreshed bool
}

// errNotServed is a kind the API does not serve (yet: its CRD may come).
type errNotServed struct{ kind schema.GroupVersionKind }

func (e errNotServed) Error() string {
	return fmt.Sprintf("the API serves no kind %s in %s (yet)", e.kind.Kind, e.kind.GroupVersion())
}

// mapping finds where the API serves a kind, reading the kinds again once
// per pass when it is not known: a CRD applied meanwhile adds kinds.
func (a *applier) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) && !a.refreshed {
		a.refreshed = true
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return nil, errNotServed{gvk}
	}
	return m, err
}

// resource is the client for an object of mapping m in namespace ns, and
// the namespace the object is in ("" for a cluster-wide kind).
func (a *applier) resource(m *meta.RESTMapping, ns string) (dynamic.ResourceInterface, string) {
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return a.dc.Resource(m.Resource), ""
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return a.dc.Resource(m.Resource).Namespace(ns), ns
}

// apply writes a document's object by server-side apply, owning every
// field it sets, and names the object as applied.
func (a *applier) apply(ctx context.Context, d Document) (Ref, error) {
	obj := d.Object.DeepCopy()
	ref := RefOf(obj)
	m, err := a.mapping(obj.GroupVersionKind())
	if err != nil {
		return ref, err
	}
	res, ns := a.resource(m, obj.GetNamespace())
	obj.SetNamespace(ns)
	ref.Namespace = ns
	// what a file copied from a live object carries, and an apply refuses
	obj.SetResourceVersion("")
	obj.SetUID("")
	obj.SetManagedFields(nil)
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	_, err = res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return ref, err
}

// crdWait bounds the wait for new CRDs to be served: one that takes longer
// leaves its objects pending, tried again later.
const crdWait = 10 * time.Second

// established waits until the named CRDs are served, or crdWait passes,
// and lets the next unknown kind read the kinds again.
func (a *applier) established(ctx context.Context, names []string) {
	ctx, cancel := context.WithTimeout(ctx, crdWait)
	defer cancel()
	_ = crd.Wait(ctx, a.dc, names, 100*time.Millisecond) // late ones stay pending
	a.refreshed = false
}

// remove deletes an object, and its dependents in the background. An
// object already gone, or whose kind is gone, is removed.
func (a *applier) remove(ctx context.Context, r Ref) error {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return err
	}
	m, err := a.mapping(gv.WithKind(r.Kind))
	var notServed errNotServed
	if errors.As(err, &notServed) {
		return nil
	}
	if err != nil {
		return err
	}
	res, _ := a.resource(m, r.Namespace)
	policy := metav1.DeletePropagationBackground
	err = res.Delete(ctx, r.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// removeAll deletes refs, the objects others need last (a CRD after its
// objects, a Namespace after everything), and returns those it could not
// delete with the first error.
func (a *applier) removeAll(ctx context.Context, refs []Ref) ([]Ref, error) {
	refs = append([]Ref(nil), refs...)
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].rank() > refs[j].rank() })
	var left []Ref
	var first error
	for _, r := range refs {
		if err := a.remove(ctx, r); err != nil {
			left = append(left, r)
			if first == nil {
				first = fmt.Errorf("deleting %s: %w", r, err)
			}
		}
	}
	return left, first
}
