// Package configfile lets every edgeos flag also come from a YAML file of
// flag name → value, below the command line and the environment in
// precedence, and binds repeatable flags to plain []string fields.
package configfile

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

// Default is read when --config is not given.
const Default = "/etc/edgeos/config.yaml"

// Apply fills every flag of the command that neither the command
// line nor the environment set, from a YAML map of flag name → value (a list
// for repeatable flags). Each value is taken as the text written in the
// file, as if typed on the command line: write-kubeconfig-mode: 0640 is
// 0640, not the number YAML would read (416). A missing default file is
// fine; a missing explicit one, bad YAML or an unknown key is an error.
func Apply(c *cli.Context) error {
	path := c.String("config")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !c.IsSet("config") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	values, err := parse(b)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	known := map[string]cli.Flag{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			known[n] = f
		}
	}
	for _, v := range values {
		f := known[v.key]
		if f == nil || v.key == "config" {
			return fmt.Errorf("config file %s: line %d: unknown key %q", path, v.line, v.key)
		}
		if c.IsSet(v.key) {
			continue // flags and environment win over the file
		}
		for _, item := range v.items {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				item = yaml11Bool(item)
			}
			if err := c.Set(v.key, item); err != nil {
				return fmt.Errorf("config file %s: line %d: %s: %w", path, v.line, v.key, err)
			}
		}
	}
	return nil
}

// value is one key of the file with its values' text.
type value struct {
	key   string
	line  int
	items []string
}

// parse reads a YAML map of flag name → plain value or list of them, in
// the file's order, keeping each value's text as written.
func parse(b []byte) ([]value, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind == 0 {
		return nil, nil // empty
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil, nil // only comments
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: not valid YAML: want a map of flag name to value", top.Line)
	}
	seen := map[string]bool{}
	var out []value
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: not valid YAML: a key must be a flag name", k.Line)
		}
		if seen[k.Value] {
			return nil, fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		}
		val := value{key: k.Value, line: k.Line}
		for _, item := range items {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: key %q wants a plain value or a list of them", item.Line, k.Value)
			}
			val.items = append(val.items, item.Value)
		}
		out = append(out, val)
	}
	return out, nil
}

// yaml11Bool reads YAML 1.1's words for true and false (yes, on, …), which
// config files written for YAML 1.1 readers (k3s's among them) use for
// booleans; anything else is left to the flag to parse.
func yaml11Bool(s string) string {
	switch strings.ToLower(s) {
	case "y", "yes", "on":
		return "true"
	case "n", "no", "off":
		return "false"
	}
	return s
}
