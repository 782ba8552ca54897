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

// Ranks put what other objects need first.
const (
	rankNamespace = iota
	rankCRD
	rankOther
)

// rank is where an object goes when objects are applied together:
// Namespaces, then CustomResourceDefinitions, then the rest; deleted in
// the reverse order.
func (r Ref) rank() int {
	switch {
	case r.Group() == "" && r.Kind == "Namespace":
		return rankNamespace
	case r.Group() == "apiextensions.k8s.io" && r.Kind == "CustomResourceDefinition":
		return rankCRD
	}
	return rankOther
}

// Order sorts documents for applying: Namespaces and CRDs first, the rest
// as written.
func Order(docs []Document) []Document {
	out := append([]Document(nil), docs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank() < out[j].rank() })
	return out
}

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
