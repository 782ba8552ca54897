package manifests

import (
	"bytes"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Document is one object of a manifest file.
type Document struct {
	// Index is the document's place in the file, from 1; Item its place in
	// a List document, from 1 (0: not from a List).
	Index, Item int
	// Line is the line of the file the document starts on, from 1.
	Line   int
	Object *unstructured.Unstructured
}

func (d Document) String() string {
	if d.Item > 0 {
		return fmt.Sprintf("document %d (line %d), item %d", d.Index, d.Line, d.Item)
	}
	return fmt.Sprintf("document %d (line %d)", d.Index, d.Line)
}

func (d Document) rank() int { return RefOf(d.Object).rank() }

// Describe names the document and its object for messages.
func (d Document) Describe() string {
	o := d.Object
	name := o.GetName()
	if ns := o.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s, %s %s", d, o.GetKind(), name)
}

// Parse reads the objects of a manifest file: YAML documents separated by
// "---" lines, or JSON. Empty documents are skipped and a List document
// gives its items. The first document that is not a usable object fails
// the whole file, naming the document and line, so that a file is applied
// as written or not at all.
func Parse(data []byte) ([]Document, error) {
	var out []Document
	seen := map[string]Document{}
	for i, part := range split(data) {
		index := i + 1
		var obj map[string]any
		if err := yaml.Unmarshal(part.text, &obj); err != nil {
			return nil, fmt.Errorf("document %d (line %d): %v", index, part.line, lineOfFile(err, part.line))
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		docs := []Document{{Index: index, Line: part.line, Object: u}}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d (line %d): %v", index, part.line, err)
			}
			docs = docs[:0]
			for j := range list.Items {
				docs = append(docs, Document{Index: index, Item: j + 1, Line: part.line, Object: &list.Items[j]})
			}
		}
		for _, d := range docs {
			if err := check(d.Object); err != nil {
				return nil, fmt.Errorf("%s: %v", d, err)
			}
			key := RefOf(d.Object).key()
			if first, ok := seen[key]; ok {
				return nil, fmt.Errorf("%s repeats %s", d, first.Describe())
			}
			seen[key] = d
			out = append(out, d)
		}
	}
	return out, nil
}

// check reports what makes an object unusable for an apply.
func check(u *unstructured.Unstructured) error {
	switch {
	case u.GetAPIVersion() == "":
		return fmt.Errorf("no apiVersion")
	case u.GetKind() == "":
		return fmt.Errorf("no kind")
	case u.GetName() == "" && u.GetGenerateName() != "":
		return fmt.Errorf("%s has only a generateName: a name is needed to apply it again", u.GetKind())
	case u.GetName() == "":
		return fmt.Errorf("%s has no metadata.name", u.GetKind())
	}
	return nil
}

type part struct {
	text []byte
	line int
}

// split cuts YAML at its document separators, keeping where each document
// starts. A separator is a line that is "---", alone or followed by a
// space or comment.
func split(data []byte) []part {
	var out []part
	start, startLine := 0, 1
	line := 1
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		l := strings.TrimRight(string(data[off:next]), "\r\n")
		if l == "---" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "---\t") {
			out = append(out, part{data[start:off], startLine})
			start, startLine = next, line+1
		}
		off = next
		line++
	}
	return append(out, part{data[start:], startLine})
}

// lineOfFile rewrites a YAML error to count lines from the start of the
// file, as its reader sees it, not from the start of the document.
func lineOfFile(err error, first int) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	var n int
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if _, e := fmt.Sscanf(rest, "%d", &n); e == nil && n > 0 {
			_, after, _ := strings.Cut(rest, ":")
			return fmt.Sprintf("line %d:%s", first+n-1, after)
		}
	}
	return msg
}
