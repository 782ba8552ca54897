package helm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValues(t *testing.T) {
	in := ValueFiles{
		Chart: Spec{
			ValuesContent: "a: {x: 1, q: 1}\nlist: [1, 2]\nfrom: chart-content\n",
			Values:        json.RawMessage(`{"a": {"q": 2}, "from": "chart-values"}`),
			ValuesSecrets: []SecretValues{{Name: "s", Keys: []string{"one", "two"}}},
			Set: map[string]intstr.IntOrString{
				"set.int": intstr.FromInt32(3), "set.bool": intstr.FromString("true"),
				"set.str": intstr.FromString("a,b"), "set.num": intstr.FromString("0755x"),
				"from": intstr.FromString("set"),
			},
		},
		Config: &ConfigSpec{
			ValuesContent: "a: {z: 3}\nlist: [9]\nfrom: config-content\n",
			Values:        json.RawMessage(`{"cfg": true}`),
		},
		Secrets: map[string]map[string][]byte{"s": {"one": []byte("sec: 1\nfrom: secret-one\n"), "two": []byte("sec: 2\n")}},
	}
	got, err := Values(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a":    map[string]any{"x": float64(1), "q": float64(2), "z": float64(3)},
		"list": []any{float64(9)},
		"sec":  float64(2),
		"cfg":  true,
		"from": "set",
		"set":  map[string]any{"int": int64(3), "bool": true, "str": "a,b", "num": "0755x"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values\n%#v\nwant\n%#v", got, want)
	}
	d1, _ := Digest([]byte("chart"), got, "ns")
	d2, _ := Digest([]byte("chart"), want, "ns")
	d3, _ := Digest([]byte("chart"), got, "other")
	if d1 != d2 || d1 == d3 {
		t.Errorf("digests %s %s %s: the same values give the same digest, another namespace another", d1, d2, d3)
	}
	for _, bad := range []ValueFiles{
		{Chart: Spec{ValuesContent: "a: [\n"}},
		{Chart: Spec{ValuesSecrets: []SecretValues{{Name: "missing", Keys: []string{"k"}}}}},
		{Chart: Spec{ValuesSecrets: []SecretValues{{Name: "s", Keys: []string{"k"}}}}, Secrets: map[string]map[string][]byte{"s": {}}},
		{Config: &ConfigSpec{ValuesContent: "- a list\n"}},
	} {
		if _, err := Values(bad); err == nil {
			t.Errorf("Values(%+v): no error", bad)
		}
	}
}

func TestPolicyTimeoutBackoff(t *testing.T) {
	if p, err := policy(Spec{}, nil); p != PolicyReinstall || err != nil {
		t.Errorf("default policy %q %v", p, err)
	}
	if p, _ := policy(Spec{FailurePolicy: "retry"}, &ConfigSpec{FailurePolicy: "abort"}); p != PolicyAbort {
		t.Errorf("the HelmChartConfig's policy wins: %q", p)
	}
	if _, err := policy(Spec{FailurePolicy: "sometimes"}, nil); err == nil {
		t.Error("an unknown policy was taken")
	}
	if d, err := (Spec{Timeout: "90s"}).timeout(); d != 90*time.Second || err != nil {
		t.Errorf("timeout %v %v", d, err)
	}
	for _, bad := range []string{"soon", "-1s", "0s"} {
		if _, err := (Spec{Timeout: bad}).timeout(); err == nil {
			t.Errorf("timeout %q was taken", bad)
		}
	}
	if backoff(1) != 10*time.Second || backoff(2) != 20*time.Second || backoff(50) != 5*time.Minute {
		t.Errorf("backoff %v %v %v", backoff(1), backoff(2), backoff(50))
	}
}

func TestStaticChart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "charts", "a.tgz"), []byte("archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret"), []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sources{static: dir}
	if b, err := s.fetch(t.Context(), "ns", Spec{Chart: StaticPrefix + "charts/a.tgz"}); err != nil || string(b) != "archive" {
		t.Errorf("static chart: %q %v", b, err)
	}
	for _, bad := range []string{"../secret", "charts/../../secret", "", "charts/missing.tgz", "/charts/a.tgz"} {
		if b, err := s.fetch(t.Context(), "ns", Spec{Chart: StaticPrefix + bad}); err == nil {
			t.Errorf("static %q: read %q", bad, b)
		}
	}
	// a path on the server is never a chart
	for _, local := range []string{"/etc/passwd", "./x", "x"} {
		_, err := s.fetch(t.Context(), "ns", Spec{Chart: local})
		if err == nil || !strings.Contains(err.Error(), "give a chart name with repo") {
			t.Errorf("chart %q: %v", local, err)
		}
	}
	if _, err := s.fetch(t.Context(), "ns", Spec{ChartContent: "!!"}); err == nil || !strings.Contains(err.Error(), "base64") {
		t.Errorf("bad chartContent: %v", err)
	}
}
