package registries

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
)

// RewriteProxy is where containerd reaches the mirror endpoints whose
// repositories are rewritten: edgeos's proxy on the node (pkg/rewrite),
// which containerd shows Secret to.
type RewriteProxy struct {
	// URL is http://127.0.0.1:PORT.
	URL, Secret string
}

// Route is one mirror endpoint with rewrites, as the proxy serves it: at
// /<Registry>/<Index>/ on the proxy.
type Route struct {
	Registry string
	Index    int
	// Root is the endpoint's API root: https://host/v2, or the path given.
	Root  *url.URL
	Host  string
	Rules []Rule
	// Config is the endpoint host's TLS settings and credentials.
	Config HostConfig
}

// Rule is one rewrite.
type Rule struct {
	Pattern *regexp.Regexp
	Replace string
}

// Rewrite is repo as the first rule that matches it makes it (the longest
// pattern first: k3s leaves the order of overlapping rules open); repo
// itself when none does.
func (r Route) Rewrite(repo string) string {
	for _, rule := range r.Rules {
		if rule.Pattern.MatchString(repo) {
			return rule.Pattern.ReplaceAllString(repo, rule.Replace)
		}
	}
	return repo
}

// Path is the route's API root on the proxy.
func (r Route) Path() string { return fmt.Sprintf("/%s/%d", r.Registry, r.Index) }

// Routes are the endpoints of every mirror with rewrites, in a file
// that passed Parse.
func (f *File) Routes() []Route {
	var out []Route
	for _, reg := range slices.Sorted(maps.Keys(f.Mirrors)) {
		m := f.Mirrors[reg]
		if len(m.Rewrites) == 0 {
			continue
		}
		patterns := slices.Sorted(maps.Keys(m.Rewrites))
		slices.SortStableFunc(patterns, func(a, b string) int { return len(b) - len(a) })
		var rules []Rule
		for _, p := range patterns {
			rules = append(rules, Rule{Pattern: regexp.MustCompile(p), Replace: m.Rewrites[p]})
		}
		for i, s := range m.Endpoints {
			e, _ := parseEndpoint(s)
			root := e.Path
			if !e.OverridePath && root == "" {
				root = "/v2"
			}
			out = append(out, Route{
				Registry: reg, Index: i, Host: e.Host, Rules: rules, Config: f.config(e.Host),
				Root: &url.URL{Scheme: e.Scheme, Host: e.Host, Path: root},
			})
		}
	}
	return out
}
