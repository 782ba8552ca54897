// Package multicall is how edgeos hands the upstream programs it runs in
// its process (apiserver, controller-manager, scheduler, kubelet,
// kube-proxy) their command lines: edgeos's flags merged with the user's.
package multicall

import (
	"fmt"
	"sort"
	"strings"
)

// CheckArgs reports every argument of flag that is not key=value.
func CheckArgs(flag string, args []string) []error {
	var errs []error
	for _, a := range args {
		if k, _, ok := strings.Cut(a, "="); !ok || strings.TrimPrefix(k, "--") == "" {
			errs = append(errs, fmt.Errorf("%s %q must be key=value", flag, a))
		}
	}
	return errs
}

// Merge adds the user's key=value flags (a leading "--" is allowed) to
// edgeos's own, so that the user's win; it returns own.
func Merge(own map[string]string, user []string) map[string]string {
	for _, kv := range user {
		k, v, _ := strings.Cut(kv, "=")
		own[strings.TrimPrefix(k, "--")] = v
	}
	return own
}

// Flags renders flag values as sorted --key=value arguments.
func Flags(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("--%s=%s", k, m[k]))
	}
	return out
}
