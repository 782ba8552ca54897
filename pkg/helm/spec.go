package helm

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Spec is a HelmChart's spec: the fields of k3s's helm-controller that
// mean something without a job pod.
type Spec struct {
	TargetNamespace       string                        `json:"targetNamespace,omitempty"`
	CreateNamespace       bool                          `json:"createNamespace,omitempty"`
	Chart                 string                        `json:"chart,omitempty"`
	Version               string                        `json:"version,omitempty"`
	Repo                  string                        `json:"repo,omitempty"`
	RepoCA                string                        `json:"repoCA,omitempty"`
	RepoCAConfigMap       *LocalRef                     `json:"repoCAConfigMap,omitempty"`
	Set                   map[string]intstr.IntOrString `json:"set,omitempty"`
	Values                json.RawMessage               `json:"values,omitempty"`
	ValuesContent         string                        `json:"valuesContent,omitempty"`
	ValuesSecrets         []SecretValues                `json:"valuesSecrets,omitempty"`
	TakeOwnership         bool                          `json:"takeOwnership,omitempty"`
	ServerSide            string                        `json:"serverSide,omitempty"`
	ForceConflicts        bool                          `json:"forceConflicts,omitempty"`
	ChartContent          string                        `json:"chartContent,omitempty"`
	BackOffLimit          *int32                        `json:"backOffLimit,omitempty"`
	Timeout               string                        `json:"timeout,omitempty"`
	FailurePolicy         string                        `json:"failurePolicy,omitempty"`
	AuthSecret            *LocalRef                     `json:"authSecret,omitempty"`
	AuthPassCredentials   bool                          `json:"authPassCredentials,omitempty"`
	InsecureSkipTLSVerify bool                          `json:"insecureSkipTLSVerify,omitempty"`
	PlainHTTP             bool                          `json:"plainHTTP,omitempty"`
}

// ConfigSpec is a HelmChartConfig's spec.
type ConfigSpec struct {
	Values        json.RawMessage `json:"values,omitempty"`
	ValuesContent string          `json:"valuesContent,omitempty"`
	ValuesSecrets []SecretValues  `json:"valuesSecrets,omitempty"`
	FailurePolicy string          `json:"failurePolicy,omitempty"`
}

// LocalRef names an object in the HelmChart's namespace.
type LocalRef struct {
	Name string `json:"name,omitempty"`
}

// SecretValues are values files kept in a Secret, one per key.
type SecretValues struct {
	Name          string   `json:"name,omitempty"`
	Keys          []string `json:"keys,omitempty"`
	IgnoreUpdates bool     `json:"ignoreUpdates,omitempty"`
}

// Failure policies: what happens after an install or upgrade fails.
const (
	// uninstall what the failed attempt left and install again (k3s's default)
	PolicyReinstall = "reinstall"
	// leave the failed release as it is until the HelmChart changes
	PolicyAbort = "abort"
	// try the same operation again, keeping the release
	PolicyRetry = "retry"
)

// defaultTimeout is k3s's: how long an install may take, hooks included.
const defaultTimeout = 300 * time.Second

// defaultBackOffLimit is k3s's job backoff limit: attempts before giving up.
const defaultBackOffLimit = 1000

func decode(u *unstructured.Unstructured, into any) error {
	raw, ok := u.Object["spec"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s %s/%s: spec: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// policy is the failure policy in effect: the HelmChartConfig's, else the
// HelmChart's, else reinstall.
func policy(s Spec, c *ConfigSpec) (string, error) {
	p := s.FailurePolicy
	if c != nil && c.FailurePolicy != "" {
		p = c.FailurePolicy
	}
	switch p {
	case "":
		return PolicyReinstall, nil
	case PolicyReinstall, PolicyAbort, PolicyRetry:
		return p, nil
	}
	return "", fmt.Errorf("failurePolicy %q is not one of reinstall, abort, retry", p)
}

// timeout is spec.timeout, a Go duration ("5m"), or k3s's default.
func (s Spec) timeout() (time.Duration, error) {
	if s.Timeout == "" {
		return defaultTimeout, nil
	}
	d, err := time.ParseDuration(s.Timeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("timeout %q is not a positive duration", s.Timeout)
	}
	return d, nil
}

func (s Spec) backOffLimit() int {
	if s.BackOffLimit == nil || *s.BackOffLimit < 0 {
		return defaultBackOffLimit
	}
	return int(*s.BackOffLimit)
}
