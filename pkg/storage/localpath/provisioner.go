package localpath

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// decision is what to do with one PVC of a local-path class.
type decision struct {
	pv *corev1.PersistentVolume
	// refusal, when set, is told in an Event; the PVC stays Pending.
	refusal string
}

// decide plans the PV for pvc of class on node (nil while no node has
// been selected). A refusal with no PV means: not now, and here is why.
func decide(pvc *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) decision {
	for _, m := range pvc.Spec.AccessModes {
		if m != corev1.ReadWriteOnce && m != corev1.ReadWriteOncePod {
			return decision{refusal: fmt.Sprintf("access mode %s is not supported: a local-path volume is a directory on one node; use ReadWriteOnce or ReadWriteOncePod", m)}
		}
	}
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return decision{refusal: "volumeMode Block is not supported: a local-path volume is a directory"}
	}
	if node == nil {
		return decision{}
	}
	base := node.Annotations[AnnotationPath]
	if base == "" {
		return decision{refusal: fmt.Sprintf("node %s has not published its local storage path yet (is its edgeos agent running?)", node.Name)}
	}
	request := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if free, err := strconv.ParseInt(node.Annotations[AnnotationFree], 10, 64); err == nil && request.Value() > free {
		return decision{refusal: fmt.Sprintf("requests %s but node %s has %s free under %s", request.String(), node.Name,
			resource.NewQuantity(free, resource.BinarySI).String(), base)}
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	dirType := corev1.HostPathDirectory
	fs := corev1.PersistentVolumeFilesystem
	return decision{pv: &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "pvc-" + string(pvc.UID),
			Annotations: map[string]string{annotationProvisionedBy: ProvisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: request},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    &fs,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: volumeDir(base, pvc), Type: &dirType},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{hostname(node)},
				}}}},
			}},
		},
	}}
}

// Provisioner is the server's controller.
type Provisioner struct {
	cs kubernetes.Interface
	// told is the last refusal evented per PVC UID.
	told map[string]string
	// outcomes counts the claims handled, by result
	outcomes *prometheus.CounterVec
}

// NewProvisioner makes the controller; reg (which may be nil) is where the
// count of provisionings is published.
func NewProvisioner(cs kubernetes.Interface, reg prometheus.Registerer) *Provisioner {
	return &Provisioner{cs: cs, told: map[string]string{},
		outcomes: telemetry.CounterVec(reg, prometheus.CounterOpts{Subsystem: "localpath", Name: "provisions_total",
			Help: "Claims for local-path volumes handled, by result: created (a PV), refused (an Event says why), failed (the API refused the PV)."}, "result")}
}

func (p *Provisioner) Name() string { return "local-path-provisioner" }

// Run watches PVCs, StorageClasses, Nodes and PVs and provisions on every
// change; ready once the watches have synced.
func (p *Provisioner) Run(ctx context.Context, ready func()) error {
	factory := informers.NewSharedInformerFactory(p.cs, 0)
	pvcs := factory.Core().V1().PersistentVolumeClaims()
	classes := factory.Storage().V1().StorageClasses()
	nodes := factory.Core().V1().Nodes()
	pvs := factory.Core().V1().PersistentVolumes()
	recorder, stop := watch.Recorder(ctx, p.cs, "edgeos-local-path")
	defer stop()
	infs := []cache.SharedIndexInformer{pvcs.Informer(), classes.Informer(), nodes.Informer(), pvs.Informer()}
	return watch.Loop(ctx, "local-path", factory, infs, watch.DefaultPause, ready, func(ctx context.Context) error {
		claims, err := pvcs.Lister().List(labels.Everything())
		if err != nil {
			return err
		}
		var errs []error
		for _, pvc := range claims {
			if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.StorageClassName == nil || pvc.Spec.VolumeName != "" {
				continue
			}
			class, err := classes.Lister().Get(*pvc.Spec.StorageClassName)
			if err != nil || class.Provisioner != ProvisionerName {
				continue
			}
			if _, err := pvs.Lister().Get("pvc-" + string(pvc.UID)); err == nil {
				continue // provisioned; the PV controller binds it
			}
			var node *corev1.Node
			if name := pvc.Annotations[annotationSelectedNode]; name != "" {
				if node, err = nodes.Lister().Get(name); err != nil {
					node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
				}
			}
			errs = append(errs, p.provision(ctx, pvc, decide(pvc, class, node), node, recorder))
		}
		return errors.Join(errs...)
	})
}

// provision carries out one decision: an Event for a refusal (once per
// reason), the PV otherwise.
func (p *Provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim, d decision, node *corev1.Node, recorder record.EventRecorder) error {
	if d.refusal != "" && p.told[string(pvc.UID)] != d.refusal {
		recorder.Event(pvc, corev1.EventTypeWarning, "ProvisioningFailed", d.refusal)
		p.told[string(pvc.UID)] = d.refusal
		p.outcomes.WithLabelValues("refused").Inc()
	}
	if d.pv == nil {
		return nil
	}
	if _, err := p.cs.CoreV1().PersistentVolumes().Create(ctx, d.pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		p.outcomes.WithLabelValues("failed").Inc()
		return fmt.Errorf("PV for %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	p.outcomes.WithLabelValues("created").Inc()
	recorder.Eventf(pvc, corev1.EventTypeNormal, "ProvisioningSucceeded", "volume %s at %s on node %s", d.pv.Name, d.pv.Spec.HostPath.Path, node.Name)
	delete(p.told, string(pvc.UID))
	return nil
}

// hostname is the node's kubernetes.io/hostname label, which PV node
// affinity matches, or its name.
func hostname(n *corev1.Node) string {
	if h := n.Labels[corev1.LabelHostname]; h != "" {
		return h
	}
	return n.Name
}
