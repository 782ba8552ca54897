package helm

import (
	"context"
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// status is what the HelmChart's status says.
type status struct {
	digest          string
	revision        int
	deployed        bool
	reason, message string
}

// condition is a HelmChart status condition.
type condition struct {
	Type               string      `json:"type"`
	Status             string      `json:"status"`
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

func conditionOf(u *unstructured.Unstructured, typ string) *condition {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	b, _ := json.Marshal(raw)
	var conds []condition
	_ = json.Unmarshal(b, &conds)
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// status writes the HelmChart's status: Deployed (k3s has no such
// condition; it is what `kubectl wait` is for) and Failed (k3s's).
func (r *reconciler) status(ctx context.Context, u *unstructured.Unstructured, s status) error {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	mk := func(typ string, on bool, reason, msg string) condition {
		c := condition{Type: typ, Status: "False", Reason: reason, Message: msg, LastTransitionTime: now}
		if on {
			c.Status = "True"
		}
		if prev := conditionOf(u, typ); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		return c
	}
	conds := []condition{mk("Deployed", s.deployed, s.reason, s.message)}
	if s.deployed {
		conds = append(conds, mk("Failed", false, s.reason, ""))
	} else {
		conds = append(conds, mk("Failed", true, s.reason, s.message))
	}
	st := map[string]any{"observedGeneration": u.GetGeneration(), "conditions": conds}
	if s.digest != "" {
		st["digest"] = s.digest
	}
	if s.revision > 0 {
		st["revision"] = s.revision
	}
	b, err := json.Marshal(map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{"name": u.GetName(), "namespace": u.GetNamespace()},
		"status":   st,
	})
	if err != nil {
		return err
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(b); err != nil {
		return err
	}
	_, err = r.dc.Resource(chartGVR).Namespace(u.GetNamespace()).ApplyStatus(ctx, u.GetName(), &obj, metav1.ApplyOptions{FieldManager: manager, Force: true})
	return err
}
