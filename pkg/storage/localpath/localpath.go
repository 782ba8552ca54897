// Package localpath is edgeos's built-in local-path storage: a default
// StorageClass whose PersistentVolumes are directories on a node. The
// provisioner runs on the server and creates a PV once the scheduler has
// picked the node of a PVC's first consumer (WaitForFirstConsumer); each
// node's agent creates the directories of its PVs, and removes a directory
// once its PV is released with reclaim policy Delete, and only then the PV.
// No helper pods, no images.
package localpath

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// ProvisionerName is the provisioner of the StorageClass.
	ProvisionerName = "edgeos.io/local-path"
	// ClassName is the default StorageClass.
	ClassName = "local-path"

	// AnnotationPath and AnnotationFree are what a node publishes: where
	// its volumes live and how many bytes are free there.
	AnnotationPath = "edgeos.io/local-storage-path"
	AnnotationFree = "edgeos.io/local-storage-free"

	annotationProvisionedBy = "pv.kubernetes.io/provisioned-by"
	annotationSelectedNode  = "volume.kubernetes.io/selected-node"
)

// volumeDir is where a PVC's volume lives under a node's storage path.
func volumeDir(base string, pvc *corev1.PersistentVolumeClaim) string {
	return filepath.Join(base, fmt.Sprintf("pvc-%s_%s_%s", pvc.UID, pvc.Namespace, pvc.Name))
}

// EnsureStorageClass creates the default local-path StorageClass.
func EnsureStorageClass(ctx context.Context, cs kubernetes.Interface) error {
	bind := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "edgeos"},
		},
		Provisioner:       ProvisionerName,
		VolumeBindingMode: &bind,
		ReclaimPolicy:     &reclaim,
	}
	_, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
