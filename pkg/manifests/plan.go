package manifests

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Ref names an object a file applied.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// RefOf names an object as its document gives it: a namespaced object
// without a namespace has "" here and "default" once applied.
func RefOf(u *unstructured.Unstructured) Ref {
	return Ref{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Group is the API group of the object's kind.
func (r Ref) Group() string {
	gv, _ := schema.ParseGroupVersion(r.APIVersion)
	return gv.Group
}

// key is the object's identity: a kind is the same object whichever
// version of its group names it.
func (r Ref) key() string { return r.Group() + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name }

func (r Ref) String() string {
	name := r.Name
	if r.Namespace != "" {
		name = r.Namespace + "/" + name
	}
	return r.Kind + " " + name
}

// rank puts what other objects need first: Namespaces, then
// CustomResourceDefinitions, then the rest.
func rank(u *unstructured.Unstructured) int {
	gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
	switch {
	case gv.Group == "" && u.GetKind() == "Namespace":
		return 0
	case gv.Group == "apiextensions.k8s.io" && u.GetKind() == "CustomResourceDefinition":
		return 1
	}
	return 2
}

// Order sorts documents for applying: Namespaces and CRDs first, the rest
// as written.
func Order(docs []Document) []Document {
	out := append([]Document(nil), docs...)
	sort.SliceStable(out, func(i, j int) bool { return Before(out[i], out[j]) })
	return out
}

// Before reports whether a goes before b when they are applied together.
func Before(a, b Document) bool { return rank(a.Object) < rank(b.Object) }

// Stale are the objects a file applied before that its documents no longer
// hold and that no other file holds: those to delete. A document without a
// namespace holds the object whether it was applied cluster-wide or into
// "default", since which one it is depends on the kind's scope.
func Stale(before []Ref, now []Ref, others []Ref) []Ref {
	held := map[string]bool{}
	for _, r := range append(append([]Ref(nil), now...), others...) {
		held[r.key()] = true
		if r.Namespace == "" {
			d := r
			d.Namespace = "default"
			held[d.key()] = true
		}
	}
	var out []Ref
	for _, r := range before {
		if !held[r.key()] {
			out = append(out, r)
		}
	}
	return out
}
