package manifests

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestParse(t *testing.T) {
	in := `# a comment only: no object
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
data:
  k: v
--- # the second
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: s, namespace: x}
- apiVersion: v1
  kind: Namespace
  metadata: {name: x}
---

---
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
`
	docs, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Describe())
	}
	want := []string{
		"document 2 (line 3), ConfigMap a",
		"document 3 (line 10), item 1, Secret x/s",
		"document 3 (line 10), item 2, Namespace x",
		"document 5 (line 22), Deployment d",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("documents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ordered := Order(docs)
	if k := ordered[0].Object.GetKind(); k != "Namespace" {
		t.Errorf("first applied: %s, want the Namespace", k)
	}
	if k := ordered[1].Object.GetKind(); k != "ConfigMap" {
		t.Errorf("second applied: %s, want the ConfigMap (as written)", k)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [\n", "document 2 (line 5): "},
		{"# first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   bad: indent\n", "document 2 (line 3): line 7: mapping values"},
		{"kind: ConfigMap\nmetadata: {name: a}\n", "document 1 (line 1): no apiVersion"},
		{"apiVersion: v1\nmetadata: {name: a}\n", "no kind"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}\n", "only a generateName"},
		{"apiVersion: v1\nkind: Pod\n", "Pod has no metadata.name"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "document 2 (line 5) repeats document 1 (line 1), Pod a"},
		{"- 1\n- 2\n", "document 1 (line 1)"},
	} {
		_, err := Parse([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q): %v, want an error with %q", c.in, err, c.want)
		}
	}
	// a valid object the parser is not confused by: a "---" inside a
	// block scalar is indented, so it is text, not a separator
	docs, err := Parse([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  k: |\n    ---\n    x\n"))
	if err != nil || len(docs) != 1 || !strings.Contains(docs[0].Object.Object["data"].(map[string]any)["k"].(string), "---") {
		t.Errorf("a block scalar holding ---: %v %v", docs, err)
	}
}

func TestStale(t *testing.T) {
	cm := func(ns, name string) Ref { return Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: name} }
	deploy := func(v string) Ref {
		return Ref{APIVersion: "apps/" + v, Kind: "Deployment", Namespace: "default", Name: "d"}
	}
	before := []Ref{cm("default", "a"), cm("x", "b"), cm("x", "c"), deploy("v1"), cm("default", "shared")}
	now := []Ref{cm("", "a"), deploy("v1beta2")}
	others := []Ref{cm("default", "shared")}
	got := Stale(before, now, others)
	if len(got) != 2 || got[0] != cm("x", "b") || got[1] != cm("x", "c") {
		t.Errorf("stale %v, want x/b and x/c: a document without a namespace holds default/a, another version of a kind holds the same object, another file's object stays", got)
	}
	if got := Stale(before, nil, nil); len(got) != len(before) {
		t.Errorf("a file gone: %d stale, want all %d", len(got), len(before))
	}
}

func TestRecordName(t *testing.T) {
	seen := map[string]string{}
	for _, c := range []struct{ path, want string }{
		{"web.yaml", "web.yaml"},
		{"my-app.yml", "my-app.yml"},
		{"apps/web.yaml", "apps-web-yaml-"},
		{"apps-web.yaml", "apps-web.yaml"},
		{"Web.yaml", "web-yaml-"},
		{"web.yaml.json", "web.yaml.json"},
		{"_x.yaml", "x-yaml-"},
		{strings.Repeat("a", 300) + ".yaml", strings.Repeat("a", 200) + "-"},
	} {
		got := RecordName(c.path)
		if got != c.want && !(strings.HasSuffix(c.want, "-") && strings.HasPrefix(got, c.want) && len(got) == len(c.want)+8) {
			t.Errorf("RecordName(%q) = %q, want %q", c.path, got, c.want)
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("RecordName(%q) = %q: %v", c.path, got, errs)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("%q and %q share the record %q", c.path, other, got)
		}
		seen[got] = c.path
	}
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "x")
	write("b.yml", "y")
	write("b.skip", "")
	write("c.json", "z")
	write("c.json.skip", "")
	write("notes.txt", "")
	write(".a.yaml.swp", "")
	write(".hidden/d.yaml", "")
	write("sub/e.yaml", "e")
	files, dirs, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		s := f.Path
		if f.Skip {
			s += " skip"
		}
		got = append(got, s)
	}
	want := "a.yaml,b.yml skip,c.json skip,sub/e.yaml"
	if strings.Join(got, ",") != want {
		t.Errorf("files %s, want %s", strings.Join(got, ","), want)
	}
	if len(dirs) != 2 || dirs[1] != filepath.Join(dir, "sub") {
		t.Errorf("directories to watch: %v", dirs)
	}
	if files[0].Sum == "" || string(files[0].Data) != "x" || files[1].Data != nil {
		t.Errorf("a file read %q %q; a skipped one %q", files[0].Data, files[0].Sum, files[1].Data)
	}
	// a file over the bound is not read
	if err := os.Truncate(filepath.Join(dir, "a.yaml"), MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	files, _, _ = Scan(dir)
	if !errors.Is(files[0].Err, ErrTooLarge) || files[0].Data != nil {
		t.Errorf("a file of %d bytes: %v, %d bytes read", MaxFileSize+1, files[0].Err, len(files[0].Data))
	}
}

// Parse takes any bytes: an error or documents, never a crash, and every
// document it gives is an object that can be applied.
func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Secret, metadata: {name: s}}]\n"))
	f.Add([]byte("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}}"))
	f.Add([]byte("a: &x [*x]\n---\n- 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse(data)
		if err != nil {
			return
		}
		for _, d := range docs {
			if check(d.Object) != nil || d.Index < 1 || d.Line < 1 {
				t.Fatalf("%s: %v", d, check(d.Object))
			}
		}
	})
}
