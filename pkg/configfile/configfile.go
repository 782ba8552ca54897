// Package configfile lets every edgeos flag also come from a YAML file of
// flag name → value, below the command line and the environment in
// precedence, and binds repeatable flags to plain []string fields.
package configfile

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"
)

// Default is read when --config is not given.
const Default = "/etc/edgeos/config.yaml"

// Apply fills every flag of the command that neither the command
// line nor the environment set, from a YAML map of flag name → value (a list
// for repeatable flags). A missing default file is fine; a missing explicit
// one, bad YAML or an unknown key is an error.
func Apply(c *cli.Context) error {
	path := c.String("config")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !c.IsSet("config") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		return fmt.Errorf("config file %s is not valid YAML: %w", path, err)
	}
	known := map[string]bool{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] || k == "config" {
			return fmt.Errorf("config file %s: unknown key %q", path, k)
		}
		if c.IsSet(k) {
			continue // flags and environment win over the file
		}
		items, isList := values[k].([]any)
		if !isList {
			items = []any{values[k]}
		}
		for _, item := range items {
			switch item.(type) {
			case map[string]any, []any, nil:
				return fmt.Errorf("config file %s: key %q wants a plain value or a list of them", path, k)
			}
			if err := c.Set(k, fmt.Sprint(item)); err != nil {
				return fmt.Errorf("config file %s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}
