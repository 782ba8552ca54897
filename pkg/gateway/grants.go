package gateway

// reference is one side of a cross-namespace reference: a kind in a
// namespace.
type reference struct{ group, kind, namespace string }

// permitted reports whether a ReferenceGrant in the target's namespace
// lets objects of from's kind and namespace refer to the target named
// name.
func (b *builder) permitted(from, to reference, name string) bool {
	for _, g := range b.in.Grants {
		if g.Namespace != to.namespace {
			continue
		}
		fromOK := false
		for _, f := range g.Spec.From {
			if string(f.Group) == from.group && string(f.Kind) == from.kind && string(f.Namespace) == from.namespace {
				fromOK = true
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == to.group && string(t.Kind) == to.kind && (t.Name == nil || string(*t.Name) == name) {
				return true
			}
		}
	}
	return false
}
