package helm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// ValueFiles are the values of a HelmChart and its HelmChartConfig as
// found: YAML documents by where they come from, and the Secrets' keys.
type ValueFiles struct {
	Chart  Spec
	Config *ConfigSpec
	// Secrets holds each valuesSecrets Secret's data, by Secret name
	Secrets map[string]map[string][]byte
}

// Values merges a chart's values the way k3s's helm-controller does: the
// HelmChart's valuesContent, values and valuesSecrets, then the
// HelmChartConfig's in the same order, each deep-merged over the ones
// before, and spec.set last (as `helm --set`, or `--set-string` for what
// does not look like a number, a boolean or null).
func Values(in ValueFiles) (map[string]any, error) {
	out := map[string]any{}
	add := func(what string, doc []byte) error {
		var v map[string]any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		merge(out, v)
		return nil
	}
	type source struct {
		kind    string
		content string
		values  json.RawMessage
		secrets []SecretValues
	}
	sources := []source{{"HelmChart", in.Chart.ValuesContent, in.Chart.Values, in.Chart.ValuesSecrets}}
	if c := in.Config; c != nil {
		sources = append(sources, source{"HelmChartConfig", c.ValuesContent, c.Values, c.ValuesSecrets})
	}
	for _, s := range sources {
		if err := add(s.kind+" valuesContent", []byte(s.content)); err != nil {
			return nil, err
		}
		if len(s.values) > 0 && string(s.values) != "null" {
			if err := add(s.kind+" values", s.values); err != nil {
				return nil, err
			}
		}
		for _, sv := range s.secrets {
			data, ok := in.Secrets[sv.Name]
			if !ok {
				return nil, fmt.Errorf("%s valuesSecrets: Secret %s not found", s.kind, sv.Name)
			}
			for _, key := range sv.Keys {
				doc, ok := data[key]
				if !ok {
					return nil, fmt.Errorf("%s valuesSecrets: Secret %s has no key %q", s.kind, sv.Name, key)
				}
				if err := add(fmt.Sprintf("%s valuesSecrets %s[%s]", s.kind, sv.Name, key), doc); err != nil {
					return nil, err
				}
			}
		}
	}
	keys := make([]string, 0, len(in.Chart.Set))
	for k := range in.Chart.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := set(out, k, in.Chart.Set[k]); err != nil {
			return nil, fmt.Errorf("set %s: %v", k, err)
		}
	}
	return out, nil
}

// typed are the values `--set` would not take as a string: integers,
// booleans, null.
var typed = regexp.MustCompile(`^(-?[0-9]+|true|false|null)$`)

func set(vals map[string]any, key string, v intstr.IntOrString) error {
	s := v.String()
	if v.Type == intstr.Int || typed.MatchString(s) {
		return strvals.ParseInto(key+"="+s, vals)
	}
	// a comma would start another key=value
	return strvals.ParseIntoString(key+"="+strings.ReplaceAll(s, ",", `\,`), vals)
}

// merge deep-merges src into dst: maps merge key by key, anything else in
// src replaces what dst has.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// Digest names what an install is made of: the chart archive and the
// values, and the settings that change what is installed.
func Digest(chart []byte, values map[string]any, targetNamespace string) (string, error) {
	v, err := json.Marshal(values) // map keys are sorted
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, part := range [][]byte{chart, v, []byte(targetNamespace)} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
