package manifests

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

//go:embed crd.yaml
var crdYAML []byte

// Group, Version and Kind of the records.
const (
	Group   = "deploy.edgeos.io"
	Version = "v1"
	Kind    = "Manifest"
)

var recordGVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "manifests"}

// fieldManager owns what the directory applies, and the records.
const fieldManager = "edgeos-manifests"

// Reasons of a record's Applied condition.
const (
	ReasonApplied = "Applied"
	// a kind not served (yet), or a write the API refused: tried again
	ReasonPending = "Pending"
	ReasonFailed  = "Failed"
	// the file cannot be read as manifests: tried again once it changes
	ReasonInvalid = "Invalid"
	ReasonSkipped = "Skipped"
)

// record is a file's Manifest record.
type record struct {
	name, file string
	// checksum of the file as last applied in full
	checksum string
	objects  []Ref
	reason   string
	message  string
	since    metav1.Time
}

func (r *record) applied() bool { return r.reason == ReasonApplied }

// status is the record's status as the API holds it.
type status struct {
	Checksum   string             `json:"checksum,omitempty"`
	Objects    []Ref              `json:"objects,omitempty"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

func fromObject(u *unstructured.Unstructured) (*record, error) {
	file, _, _ := unstructured.NestedString(u.Object, "spec", "file")
	r := &record{name: u.GetName(), file: file}
	raw, ok := u.Object["status"]
	if !ok {
		return r, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var st status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("Manifest %s: status: %w", u.GetName(), err)
	}
	r.checksum, r.objects = st.Checksum, st.Objects
	for _, c := range st.Conditions {
		if c.Type == "Applied" {
			r.reason, r.message, r.since = c.Reason, c.Message, c.LastTransitionTime
		}
	}
	return r, nil
}

// records reads every Manifest record, by file.
func records(ctx context.Context, dc dynamic.Interface) (map[string]*record, error) {
	list, err := dc.Resource(recordGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]*record{}
	for i := range list.Items {
		r, err := fromObject(&list.Items[i])
		if err != nil {
			return nil, err
		}
		if r.file != "" {
			out[r.file] = r
		}
	}
	return out, nil
}

// write stores r: its spec, then its status.
func (r *record) write(ctx context.Context, dc dynamic.Interface) error {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/" + Version,
		"kind":       Kind,
		"metadata":   map[string]any{"name": r.name},
		"spec":       map[string]any{"file": r.file},
	}}
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if _, err := dc.Resource(recordGVR).Apply(ctx, r.name, obj, opts); err != nil {
		return err
	}
	cond := metav1.Condition{Type: "Applied", Status: metav1.ConditionFalse, Reason: r.reason, Message: r.message, LastTransitionTime: r.since}
	if r.applied() {
		cond.Status = metav1.ConditionTrue
	}
	if r.reason == ReasonSkipped {
		cond.Status = metav1.ConditionUnknown
	}
	b, err := json.Marshal(status{Checksum: r.checksum, Objects: r.objects, Conditions: []metav1.Condition{cond}})
	if err != nil {
		return err
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	obj.Object["status"] = st
	delete(obj.Object, "spec")
	_, err = dc.Resource(recordGVR).ApplyStatus(ctx, r.name, obj, opts)
	return err
}

// same reports whether other holds what r holds, as written.
func (r *record) same(other *record) bool {
	return r.reason != "" && r.reason == other.reason && r.message == other.message &&
		r.checksum == other.checksum && slices.Equal(r.objects, other.objects)
}

// set changes the record's condition, keeping when it last changed.
func (r *record) set(reason, message string) {
	if r.reason != reason || r.since.IsZero() {
		r.since = metav1.NewTime(time.Now().Truncate(time.Second))
	}
	r.reason, r.message = reason, message
}
