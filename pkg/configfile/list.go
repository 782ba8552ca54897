package configfile

import "strings"

// List binds a repeatable, comma-separable flag straight to a []string
// field of a component's config.
type List struct{ Dst *[]string }

func (l List) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.Dst = append(*l.Dst, v)
		}
	}
	return nil
}

func (l List) String() string {
	if l.Dst == nil {
		return ""
	}
	return strings.Join(*l.Dst, ",")
}
