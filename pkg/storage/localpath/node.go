package localpath

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NodeConfig places a node's local storage.
type NodeConfig struct {
	// Path holds the node's volumes.
	Path     string
	NodeName string
	// NodeKubeconfig publishes the path and free space on the node's own
	// Node; VolumesKubeconfig (the edgeos-agent identity) watches and
	// deletes PVs.
	NodeKubeconfig, VolumesKubeconfig string
}

// Node is the agent's side: it publishes where volumes go and how much
// room is left, makes the directories of this node's PVs, and removes
// released ones with reclaim policy Delete, then their PVs.
type Node struct{ cfg NodeConfig }

// NewNode prepares the node's local storage.
func NewNode(cfg NodeConfig) *Node { return &Node{cfg: cfg} }

func (n *Node) Name() string { return "local-storage" }

// freeEvery is how often free space is looked at; it is published only
// when it moved by more than publishStep, to spare the datastore.
const (
	freeEvery   = time.Minute
	publishStep = 64 << 20
)

// Run is ready once the storage path exists; the rest needs the API and
// waits for it.
func (n *Node) Run(ctx context.Context, ready func()) error {
	if err := os.MkdirAll(n.cfg.Path, 0o700); err != nil {
		return fmt.Errorf("local storage path: %w", err)
	}
	nodeCS, err := kubeconfig.Client(n.cfg.NodeKubeconfig)
	if err != nil {
		return err
	}
	volCS, err := kubeconfig.Client(n.cfg.VolumesKubeconfig)
	if err != nil {
		return err
	}
	ready()
	// cancel, then wait: what wg runs ends with ctx, also when Run fails
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { n.publishFree(ctx, nodeCS) })
	return n.followVolumes(ctx, volCS)
}

func (n *Node) publishFree(ctx context.Context, cs kubernetes.Interface) {
	published := int64(-1)
	for {
		free, err := freeBytes(n.cfg.Path)
		if err != nil {
			logrus.Warnf("local storage: free space of %s: %v", n.cfg.Path, err)
		} else if published < 0 || abs(free-published) > publishStep {
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
				AnnotationPath: n.cfg.Path, AnnotationFree: strconv.FormatInt(free, 10),
			}}})
			if _, err := cs.CoreV1().Nodes().Patch(ctx, n.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err == nil {
				published = free
			} else if ctx.Err() == nil {
				logrus.Debugf("local storage: publishing free space: %v", err)
			}
		}
		wait := freeEvery
		if published < 0 {
			wait = 2 * time.Second // not published yet: the server may be starting
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func freeBytes(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// followVolumes keeps the directories of this node's PVs in step.
func (n *Node) followVolumes(ctx context.Context, cs kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	pvs := factory.Core().V1().PersistentVolumes()
	return watch.Loop(ctx, "Local storage", factory, []cache.SharedIndexInformer{pvs.Informer()},
		watch.Pause{AfterError: 5 * time.Second}, nil, func(ctx context.Context) error {
			list, err := pvs.Lister().List(labels.Everything())
			if err != nil {
				return err
			}
			var errs []error
			for _, pv := range list {
				if err := n.reconcile(ctx, cs, pv); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", pv.Name, err))
				}
			}
			return errors.Join(errs...)
		})
}

// reconcile handles one PV if it is a local-path volume of this node.
func (n *Node) reconcile(ctx context.Context, cs kubernetes.Interface, pv *corev1.PersistentVolume) error {
	dir, ok := n.ownDir(pv)
	if !ok {
		return nil
	}
	if pv.Status.Phase != corev1.VolumeReleased {
		if _, err := os.Stat(dir); err == nil {
			return nil
		}
		if err := os.Mkdir(dir, 0o777); err != nil && !os.IsExist(err) {
			return err
		}
		// pods of any user may write their volume, as with hostPath
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
		logrus.Infof("Local storage: made %s for %s", dir, claimName(pv))
		return nil
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil // Retain: the data stays, and so does the PV
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	logrus.Infof("Local storage: removed %s of released %s", dir, claimName(pv))
	uid := pv.UID
	err := cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ownDir is the PV's directory when the PV is one of ours, bound to this
// node, and its path lies inside this node's storage path.
func (n *Node) ownDir(pv *corev1.PersistentVolume) (string, bool) {
	if pv.Annotations[annotationProvisionedBy] != ProvisionerName || pv.Spec.HostPath == nil || pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return "", false
	}
	mine := false
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == corev1.LabelHostname && len(e.Values) == 1 && e.Values[0] == n.cfg.NodeName {
				mine = true
			}
		}
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	rel, err := filepath.Rel(n.cfg.Path, dir)
	if !mine || err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.Contains(rel, "/") {
		return "", false
	}
	return dir, true
}

func claimName(pv *corev1.PersistentVolume) string {
	if pv.Spec.ClaimRef == nil {
		return pv.Name
	}
	return pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
}
