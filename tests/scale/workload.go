package scale

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// PodLabel marks every pod of the workload (scale=pod).
const PodLabel = "scale"

// Workload is what runs on the simulated nodes: Namespaces of
// DeploymentsPerNamespace Deployments of Replicas pods each, and beside
// them ObjectsPerNamespace ConfigMaps and as many Secrets for the churn to
// update.
type Workload struct {
	Namespaces, DeploymentsPerNamespace, Replicas, ObjectsPerNamespace int
}

// ForPods is the workload of about pods pods (rounded up to whole
// Deployments), in Namespaces of 10 Deployments of 30 pods as the density
// tests of sig-scalability spread theirs; fewer pods make fewer, smaller
// Deployments.
func ForPods(pods int) Workload {
	w := Workload{DeploymentsPerNamespace: 10, Replicas: 30, ObjectsPerNamespace: 10}
	if pods < w.Replicas*w.DeploymentsPerNamespace {
		w.Replicas = max(1, pods/w.DeploymentsPerNamespace)
	}
	perNS := w.Replicas * w.DeploymentsPerNamespace
	w.Namespaces = (pods + perNS - 1) / perNS
	return w
}

// Pods is how many pods the workload runs when no Deployment is scaled.
func (w Workload) Pods() int { return w.Namespaces * w.DeploymentsPerNamespace * w.Replicas }

// Namespace is the name of the i-th namespace.
func (w Workload) Namespace(i int) string { return fmt.Sprintf("scale-%d", i) }

// Deployment is the name of the j-th Deployment of a namespace; ConfigMap
// and Secret name the j-th of theirs.
func Deployment(j int) string { return fmt.Sprintf("app-%d", j) }
func ConfigMap(j int) string  { return fmt.Sprintf("config-%d", j) }
func Secret(j int) string     { return fmt.Sprintf("secret-%d", j) }

// Create makes the namespaces, ConfigMaps, Secrets and Deployments; the
// pods follow as the controllers, the scheduler and kwok work.
func (w Workload) Create(tb testing.TB, cs kubernetes.Interface) {
	tb.Helper()
	ctx := context.Background()
	for i := range w.Namespaces {
		ns := w.Namespace(i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			tb.Fatal(err)
		}
		for j := range w.ObjectsPerNamespace {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMap(j)}, Data: map[string]string{"revision": "0"}}
			if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				tb.Fatal(err)
			}
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: Secret(j)}, StringData: map[string]string{"revision": "0"}}
			if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				tb.Fatal(err)
			}
		}
		for j := range w.DeploymentsPerNamespace {
			if _, err := cs.AppsV1().Deployments(ns).Create(ctx, w.deployment(j), metav1.CreateOptions{}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func (w Workload) deployment(j int) *appsv1.Deployment {
	labels := map[string]string{PodLabel: "pod", "app": Deployment(j)}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: Deployment(j)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(w.Replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{NodeLabel: "kwok"},
					Containers:   []corev1.Container{{Name: "app", Image: "simulated"}},
				},
			},
		},
	}
}

// WaitSettled waits until every Deployment of the workload has all of its
// pods updated and available, whatever the churn last scaled it to, and
// returns how many pods that is.
func (w Workload) WaitSettled(tb testing.TB, cs kubernetes.Interface, limit time.Duration) int {
	tb.Helper()
	ctx := context.Background()
	var pods int
	// what an unsettled Deployment's pods are doing is asked only near
	// the end, so that the bench's API figures do not count the asking
	explainAfter := time.Now().Add(limit - 10*time.Second)
	WaitFor(tb, limit, 2*time.Second, func() (bool, string) {
		pods = 0
		for i := range w.Namespaces {
			list, err := cs.AppsV1().Deployments(w.Namespace(i)).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			if len(list.Items) != w.DeploymentsPerNamespace {
				return false, fmt.Sprintf("%s: %d Deployments", w.Namespace(i), len(list.Items))
			}
			for _, d := range list.Items {
				want := *d.Spec.Replicas
				st := d.Status
				if st.ObservedGeneration != d.Generation || st.UpdatedReplicas != want || st.AvailableReplicas != want || st.Replicas != want {
					msg := fmt.Sprintf("%s/%s not settled: want %d, %+v", d.Namespace, d.Name, want, st)
					if time.Now().After(explainAfter) {
						msg += "; " + podsOf(ctx, cs, d)
					}
					return false, msg
				}
				pods += int(want)
			}
		}
		return true, ""
	})
	return pods
}

// podsOf says where a Deployment's pods are, for a Deployment that does
// not settle: how many of them per phase, how many are not scheduled and
// how many are not ready, and its ReplicaSets' status.
func podsOf(ctx context.Context, cs kubernetes.Interface, d appsv1.Deployment) string {
	sel := metav1.FormatLabelSelector(d.Spec.Selector)
	pods, err := cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "pods: " + err.Error()
	}
	phases := map[corev1.PodPhase]int{}
	var unscheduled, unready, deleting int
	for _, p := range pods.Items {
		phases[p.Status.Phase]++
		if p.Spec.NodeName == "" {
			unscheduled++
		}
		if p.DeletionTimestamp != nil {
			deleting++
		}
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			unready++
		}
	}
	out := fmt.Sprintf("%d pods by phase %v, %d not scheduled, %d not ready, %d being deleted", len(pods.Items), phases, unscheduled, unready, deleting)
	rss, err := cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return out + "; replica sets: " + err.Error()
	}
	for _, rs := range rss.Items {
		out += fmt.Sprintf("; %s: spec %d, generation %d, %+v", rs.Name, ptr.Deref(rs.Spec.Replicas, 0), rs.Generation, rs.Status)
	}
	return out
}
