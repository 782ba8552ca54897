package ingress

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Rule is one match of a Gateway API route rule and what the rule does.
// Rules are what pkg/gateway makes of HTTPRoutes; the table orders them by
// the precedence the API sets and answers a request with the first that
// matches.
type Rule struct {
	Match Match
	// Action is shared by the matches of one route rule.
	Action *Action
	// Order breaks ties of precedence: the route's age, then its
	// namespace/name, then the rule's and the match's index.
	Order Order
}

// Order places a rule among those of equal precedence.
type Order struct {
	// Created is the route's creation time (Unix nanoseconds).
	Created     int64
	Route       string
	Rule, Match int
}

func (o Order) compare(p Order) int {
	return cmp.Or(cmp.Compare(o.Created, p.Created), strings.Compare(o.Route, p.Route),
		cmp.Compare(o.Rule, p.Rule), cmp.Compare(o.Match, p.Match))
}

// PathKind is how a rule's path matches.
type PathKind int

const (
	// PathPrefix matches the path and everything below it, element by
	// element: "/a" matches "/a" and "/a/b", not "/ab".
	PathPrefix PathKind = iota
	// PathExact matches the path alone.
	PathExact
	// PathRegex matches paths the regular expression (RE2) matches whole.
	PathRegex
)

// Match is what a rule asks of a request; everything it names must hold.
type Match struct {
	PathKind PathKind
	// Path is the prefix (without a trailing slash but for "/"), the
	// exact path or the expression.
	Path string
	// Method is empty for any.
	Method  string
	Headers []ValueMatch
	Query   []ValueMatch

	pathRE *regexp.Regexp
}

// ValueMatch asks a header or query parameter for a value, exactly or by
// a regular expression matching it whole.
type ValueMatch struct {
	// Name is a header's name (any case) or a query parameter's (exact).
	Name  string
	Value string
	Regex bool

	re *regexp.Regexp
}

// Compile checks and prepares a match's regular expressions, and brings
// its path and header names to the form matching uses.
func (m *Match) Compile() error {
	switch m.PathKind {
	case PathPrefix:
		if m.Path != "/" {
			m.Path = strings.TrimRight(m.Path, "/")
		}
		if m.Path == "" {
			m.Path = "/"
		}
	case PathRegex:
		re, err := regexp.Compile("^(?:" + m.Path + ")$")
		if err != nil {
			return fmt.Errorf("path %q is not a regular expression edgeos can use: %w", m.Path, err)
		}
		m.pathRE = re
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		h.Name = http.CanonicalHeaderKey(h.Name)
		if err := h.compile(); err != nil {
			return fmt.Errorf("header %s: %w", h.Name, err)
		}
	}
	for i := range m.Query {
		if err := m.Query[i].compile(); err != nil {
			return fmt.Errorf("query parameter %s: %w", m.Query[i].Name, err)
		}
	}
	return nil
}

func (v *ValueMatch) compile() error {
	if !v.Regex {
		return nil
	}
	re, err := regexp.Compile("^(?:" + v.Value + ")$")
	if err != nil {
		return fmt.Errorf("%q is not a regular expression edgeos can use: %w", v.Value, err)
	}
	v.re = re
	return nil
}

func (v *ValueMatch) matches(value string, present bool) bool {
	if !present {
		return false
	}
	if v.re != nil {
		return v.re.MatchString(value)
	}
	return value == v.Value
}

// matches reports whether the request (with its path cleaned) matches.
func (m *Match) matches(r *http.Request, path string) bool {
	switch m.PathKind {
	case PathExact:
		if path != m.Path {
			return false
		}
	case PathRegex:
		if !m.pathRE.MatchString(path) {
			return false
		}
	default:
		if !underPrefix(path, m.Path) {
			return false
		}
	}
	if m.Method != "" && r.Method != m.Method {
		return false
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		vs := r.Header[h.Name]
		var first string
		if len(vs) > 0 {
			first = vs[0]
		}
		if !h.matches(first, len(vs) > 0) {
			return false
		}
	}
	if len(m.Query) > 0 {
		q := r.URL.Query()
		for i := range m.Query {
			vs, ok := q[m.Query[i].Name]
			var first string
			if ok && len(vs) > 0 {
				first = vs[0]
			}
			if !m.Query[i].matches(first, ok) {
				return false
			}
		}
	}
	return true
}

// underPrefix reports whether path is prefix or below it, element by
// element.
func underPrefix(path, prefix string) bool {
	return prefix == "/" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// compare orders rules by the API's precedence, the first to be tried
// first: an exact path, then a regular expression, then the longest
// prefix; then a method; then the most headers; then the most query
// parameters; then Order.
func (r *Rule) compare(o *Rule) int {
	a, b := &r.Match, &o.Match
	return cmp.Or(
		cmp.Compare(pathRank(a.PathKind), pathRank(b.PathKind)),
		cmp.Compare(len(b.Path), len(a.Path)),
		cmp.Compare(count(b.Method != ""), count(a.Method != "")),
		cmp.Compare(len(b.Headers), len(a.Headers)),
		cmp.Compare(len(b.Query), len(a.Query)),
		r.Order.compare(o.Order),
	)
}

func pathRank(k PathKind) int {
	switch k {
	case PathExact:
		return 0
	case PathRegex:
		return 1
	}
	return 2
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Action is what a rule does with the requests it matches: answer them
// itself (a redirect, or an error when it has no usable backend), or send
// them to a backend, changed as its filters say.
type Action struct {
	RequestHeaders  HeaderChanges
	ResponseHeaders HeaderChanges
	Redirect        *Redirect
	Rewrite         *Rewrite
	// Backends share the requests by weight. A backend without a Target
	// (one edgeos cannot send to) answers its share with 500.
	Backends []Backend
	// Why a rule without a usable backend answers 500.
	Why string
	// Timeout bounds the whole request, BackendTimeout the backend's
	// answer (each 0: none); past either the proxy answers 504. Upgraded
	// connections (WebSocket) are not bounded.
	Timeout, BackendTimeout time.Duration
}

// Backend is one of a rule's backends.
type Backend struct {
	Target *Target
	Weight int
}

// HeaderChanges set (replacing), add (beside those there) and remove
// headers.
type HeaderChanges struct {
	Set, Add []Header
	Remove   []string
}

// Header is a header's name and value.
type Header struct{ Name, Value string }

func (c *HeaderChanges) empty() bool { return len(c.Set)+len(c.Add)+len(c.Remove) == 0 }

func (c *HeaderChanges) apply(h http.Header) {
	for _, s := range c.Set {
		h.Set(s.Name, s.Value)
	}
	for _, a := range c.Add {
		h.Add(a.Name, a.Value)
	}
	for _, name := range c.Remove {
		h.Del(name)
	}
}

// Redirect answers with a redirect; what it leaves empty (or 0) stays as
// in the request.
type Redirect struct {
	Scheme, Hostname string
	Port             int
	Path             *PathChange
	// Code is the status: 301, 302 (the default), 303, 307 or 308.
	Code int
}

// Rewrite changes the request before it goes to the backend.
type Rewrite struct {
	Hostname string
	Path     *PathChange
}

// PathChange replaces the whole path, or only the part a prefix match
// matched.
type PathChange struct {
	// Full replaces the whole path; otherwise the matched prefix.
	Full  bool
	Value string
}

// apply returns the changed path of a request whose rule matched by m.
// Replacing a prefix keeps what followed it as a path element: "/a/b"
// matched by "/a" with "/x" is "/x/b", with "/" it is "/b".
func (c *PathChange) apply(path string, m *Match) string {
	if c.Full || m.PathKind != PathPrefix {
		return c.Value
	}
	rest := path
	if m.Path != "/" {
		rest = strings.TrimPrefix(path, m.Path)
	}
	out := strings.TrimRight(c.Value, "/") + "/" + strings.TrimLeft(rest, "/")
	if out != "/" && rest == "" && !strings.HasSuffix(c.Value, "/") {
		out = strings.TrimSuffix(out, "/")
	}
	return out
}
