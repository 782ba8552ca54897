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

// Args binds a repeatable flag whose every value is kept whole: a
// component's key=value, whose value may hold commas of its own
// (feature-gates=A=true,B=false), so one value is one flag.
type Args struct{ Dst *[]string }

func (a Args) Set(s string) error {
	if s = strings.TrimSpace(s); s != "" {
		*a.Dst = append(*a.Dst, s)
	}
	return nil
}

func (a Args) String() string { return List(a).String() }
