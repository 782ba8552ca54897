// Package crd installs the CustomResourceDefinitions edgeos's own
// controllers serve, and waits until the API serves their kinds.
package crd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// GVR is where the API serves CustomResourceDefinitions.
var GVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Ensure applies the CRDs of a YAML stream by server-side apply under
// manager, then waits until the API serves each.
func Ensure(ctx context.Context, dc dynamic.Interface, manager string, stream []byte) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var names []string
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return err
		}
		if len(u.Object) == 0 {
			continue
		}
		if _, err := dc.Resource(GVR).Apply(ctx, u.GetName(), &u, metav1.ApplyOptions{FieldManager: manager, Force: true}); err != nil {
			return fmt.Errorf("CustomResourceDefinition %s: %w", u.GetName(), err)
		}
		names = append(names, u.GetName())
	}
	return Wait(ctx, dc, names, 100*time.Millisecond)
}

// Wait polls every interval until the API serves every named CRD, or ctx
// ends.
func Wait(ctx context.Context, dc dynamic.Interface, names []string, interval time.Duration) error {
	for _, name := range names {
		for {
			got, err := dc.Resource(GVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && Established(got) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CustomResourceDefinition %s is not served: %w", name, ctx.Err())
			case <-time.After(interval):
			}
		}
	}
	return nil
}

// Established reports whether the API serves a CRD's kind.
func Established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
