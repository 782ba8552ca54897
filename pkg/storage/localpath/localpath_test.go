package localpath

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func claim(modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-web-0", Namespace: "shop", UID: "1234"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: modes,
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

func storageNode(free string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "n1", Labels: map[string]string{corev1.LabelHostname: "n1"},
		Annotations: map[string]string{AnnotationPath: "/var/lib/edgeos/storage", AnnotationFree: free},
	}}
}

func TestDecide(t *testing.T) {
	retain := corev1.PersistentVolumeReclaimRetain
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Provisioner: ProvisionerName, ReclaimPolicy: &retain}

	d := decide(claim(corev1.ReadWriteOnce), class, storageNode("10737418240"))
	if d.pv == nil || d.refusal != "" {
		t.Fatalf("refused: %s", d.refusal)
	}
	pv := d.pv
	if pv.Spec.HostPath.Path != "/var/lib/edgeos/storage/pvc-1234_shop_data-web-0" || pv.Spec.PersistentVolumeReclaimPolicy != retain ||
		pv.Spec.ClaimRef.UID != "1234" || pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "n1" ||
		pv.Name != "pvc-1234" || pv.Spec.StorageClassName != "keep" {
		t.Errorf("PV %+v", pv.Spec)
	}

	for _, c := range []struct {
		pvc  *corev1.PersistentVolumeClaim
		node *corev1.Node
		want string
	}{
		{claim(corev1.ReadWriteMany), nil, "access mode ReadWriteMany is not supported"},
		{claim(corev1.ReadOnlyMany), storageNode("10737418240"), "access mode ReadOnlyMany is not supported"},
		{claim(corev1.ReadWriteOncePod), storageNode("1048576"), "requests 1Gi but node n1 has 1Mi free"},
		{claim(corev1.ReadWriteOnce), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, "node n2 has not published"},
	} {
		d := decide(c.pvc, class, c.node)
		if d.pv != nil || !strings.Contains(d.refusal, c.want) {
			t.Errorf("%v on %v: %q, want %q", c.pvc.Spec.AccessModes, c.node, d.refusal, c.want)
		}
	}
	// no node selected yet, nothing wrong: wait quietly
	if d := decide(claim(corev1.ReadWriteOnce), class, nil); d.pv != nil || d.refusal != "" {
		t.Errorf("without a node: %+v", d)
	}
}

func TestOwnDir(t *testing.T) {
	n := NewNode(NodeConfig{Path: "/data/storage", NodeName: "n1"})
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ClassName}, Provisioner: ProvisionerName}
	pv := decide(claim(corev1.ReadWriteOnce), class, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "n1", Annotations: map[string]string{AnnotationPath: "/data/storage"}}}).pv
	if dir, ok := n.ownDir(pv); !ok || dir != "/data/storage/pvc-1234_shop_data-web-0" {
		t.Errorf("own PV: %q %v", dir, ok)
	}
	other := NewNode(NodeConfig{Path: "/data/storage", NodeName: "n2"})
	if _, ok := other.ownDir(pv); ok {
		t.Error("another node's PV taken for its own")
	}
	escape := pv.DeepCopy()
	escape.Spec.HostPath.Path = "/data/storage/../../etc"
	if _, ok := n.ownDir(escape); ok {
		t.Error("a path outside the storage path accepted")
	}
	foreign := pv.DeepCopy()
	foreign.Annotations = nil
	if _, ok := n.ownDir(foreign); ok {
		t.Error("a PV of another provisioner taken")
	}
}
