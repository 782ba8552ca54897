package gateway

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgeos/edgeos/pkg/crd"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// crdsYAML are the module's standard-channel CRDs of Resources, written by
// scripts/gateway-crds.sh.
//
//go:embed crds.yaml
var crdsYAML []byte

// Resources are the Gateway API resources edgeos serves, whose CRDs it
// installs. The others of the standard channel (GRPCRoute, TLSRoute,
// BackendTLSPolicy, ListenerSet, ...) are left out: a kind no controller
// serves would take the API server's memory and accept objects that do
// nothing.
var Resources = []string{"gatewayclasses", "gateways", "httproutes", "referencegrants"}

const (
	bundleAnnotation  = "gateway.networking.k8s.io/bundle-version"
	channelAnnotation = "gateway.networking.k8s.io/channel"
	// managedLabel marks the CRDs edgeos installed, which it updates
	managedLabel = "app.kubernetes.io/managed-by"
)

// EnsureCRDs installs the CRDs under manager, or updates those edgeos
// installed before, and waits until the API serves them. CRDs someone else
// installed (of another Gateway API release or channel, say) are left as
// they are.
func EnsureCRDs(ctx context.Context, dc dynamic.Interface, manager string) error {
	crds, err := trimmedCRDs()
	if err != nil {
		return err
	}
	var mine bytes.Buffer
	for _, u := range crds {
		have, err := dc.Resource(crd.GVR).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err == nil && have.GetLabels()[managedLabel] != "edgeos" {
			logrus.Infof("Gateway API: leaving CustomResourceDefinition %s of release %s (%s channel) as it is", u.GetName(),
				have.GetAnnotations()[bundleAnnotation], have.GetAnnotations()[channelAnnotation])
			continue
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return err
		}
		mine.WriteString("---\n")
		mine.Write(b)
	}
	if err := crd.Ensure(ctx, dc, manager, mine.Bytes()); err != nil {
		return err
	}
	var names []string
	for _, u := range crds {
		names = append(names, u.GetName())
	}
	return crd.Wait(ctx, dc, names, 100*time.Millisecond)
}

// trimmedCRDs are the embedded CRDs as edgeos installs them: without the
// versions other than v1 and the storage version (v1beta1 of
// ReferenceGrant), and without the schemas' descriptions. Both cost the
// API server memory for every CRD (see bench/RESULTS.md); the API is the
// same, kubectl explain shows the fields without their documentation.
func trimmedCRDs() ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(crdsYAML)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, err
		}
		if len(u.Object) == 0 {
			continue
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[managedLabel] = "edgeos"
		u.SetLabels(labels)
		versions, _, err := unstructured.NestedSlice(u.Object, "spec", "versions")
		if err != nil {
			return nil, fmt.Errorf("CustomResourceDefinition %s: %w", u.GetName(), err)
		}
		var keep []any
		for _, v := range versions {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("CustomResourceDefinition %s: a version is not an object", u.GetName())
			}
			if m["name"] != "v1" && m["storage"] != true {
				continue
			}
			dropDescriptions(m["schema"])
			keep = append(keep, m)
		}
		if err := unstructured.SetNestedSlice(u.Object, keep, "spec", "versions"); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
}

// dropDescriptions removes the description of every schema under v. The
// keys of "properties" are field names (a field may be called
// description), only their values are schemas.
func dropDescriptions(v any) {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "description")
		for k, c := range t {
			if props, ok := c.(map[string]any); ok && k == "properties" {
				for _, p := range props {
					dropDescriptions(p)
				}
				continue
			}
			dropDescriptions(c)
		}
	case []any:
		for _, c := range t {
			dropDescriptions(c)
		}
	}
}
