// Package multicall is how the one edgeos binary is also the programs other
// software executes by name (containerd's shim, CNI plugins), and how edgeos
// hands upstream programs their command lines.
package multicall

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Link makes dir/name a symlink to the running edgeos binary, replacing a
// link to an older one.
func Link(dir, name string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	link := filepath.Join(dir, name)
	if cur, err := os.Readlink(link); err == nil && cur == self {
		return nil
	}
	_ = os.Remove(link)
	return os.Symlink(self, link)
}

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
