package footprint

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	"github.com/edgeos/edgeos/tests/scale"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// The workload is the same for edgeos and vanilla Kubernetes: pods of the
// echo test image, imported (never pulled), and ConfigMaps.

// waitNodeReady polls the Node every 100 ms until it is Ready.
func waitNodeReady(b *testing.B, cs kubernetes.Interface, name string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("node %s not Ready: %v", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func echoPod(node string) corev1.PodSpec {
	return corev1.PodSpec{
		NodeSelector: map[string]string{"kubernetes.io/hostname": node},
		Containers: []corev1.Container{{
			Name: "echo", Image: images.Name("echo"), ImagePullPolicy: corev1.PullNever,
		}},
	}
}

// podStartLatencies creates n pods one after another on the node, each
// timed from the create call to the watch event that shows it Running, and
// deletes them.
func podStartLatencies(b *testing.B, cs kubernetes.Interface, node string, n int) []time.Duration {
	b.Helper()
	ctx := context.Background()
	waitServiceAccount(b, cs)
	pods := cs.CoreV1().Pods("default")
	var out []time.Duration
	for i := range n {
		name := fmt.Sprintf("start-%d", i)
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			b.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "start"}}, Spec: echoPod(node)}
		t0 := time.Now()
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := untilRunning(w); err != nil {
			b.Fatalf("pod %s: %v", name, err)
		}
		out = append(out, time.Since(t0))
	}
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=start"}); err != nil {
		b.Fatal(err)
	}
	// gone, so that their teardown is not counted as idle work
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "bench=start"})
		if err == nil && len(l.Items) == 0 {
			return out
		}
		if time.Now().After(deadline) {
			b.Fatalf("start pods not gone: %v", err)
		}
		time.Sleep(time.Second)
	}
}

// waitServiceAccount waits for the default namespace's ServiceAccount,
// without which no pod is admitted; the controller-manager makes it soon
// after the API is up.
func waitServiceAccount(b *testing.B, cs kubernetes.Interface) {
	b.Helper()
	scale.WaitFor(b, 5*time.Minute, 100*time.Millisecond, func() (bool, string) {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, fmt.Sprintf("no default ServiceAccount: %v", err)
	})
}

func untilRunning(w watch.Interface) error {
	defer w.Stop()
	timeout := time.After(5 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("not Running after 5 minutes")
		}
	}
}

// runIdlePods runs a Deployment of idlePods echo pods on the node and waits
// until all are Running.
func runIdlePods(b *testing.B, cs kubernetes.Interface, node string) {
	b.Helper()
	ctx := context.Background()
	lbls := map[string]string{"bench": "idle-" + node}
	replicas := int32(idlePods)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "idle-" + node},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: echoPod(node)},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	scale.WaitFor(b, 5*time.Minute, time.Second, func() (bool, string) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(lbls).String()})
		running := 0
		if err == nil {
			for _, p := range l.Items {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
		}
		return running == idlePods, fmt.Sprintf("%d idle pods on %s not Running", idlePods, node)
	})
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// nearest rank
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

// apiLatencies creates n ConfigMaps one after another on node's API, then
// lists them all lists times, each call timed, and deletes them.
func apiLatencies(b *testing.B, node *harness.Node, n, lists int) (creates, listed []time.Duration) {
	b.Helper()
	ctx := context.Background()
	// without client-go's default rate limit (5 requests/s), which would
	// be all this measured
	rc := node.RESTConfig()
	rc.QPS, rc.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	cms := cs.CoreV1().ConfigMaps("default")
	for i := range n {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Labels: map[string]string{"bench": "api"}},
			Data:       map[string]string{"key": fmt.Sprintf("value %d", i)},
		}
		t0 := time.Now()
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		creates = append(creates, time.Since(t0))
	}
	for range lists {
		t0 := time.Now()
		l, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "bench=api"})
		if err != nil {
			b.Fatal(err)
		}
		listed = append(listed, time.Since(t0))
		if len(l.Items) != n {
			b.Fatalf("listed %d ConfigMaps, created %d", len(l.Items), n)
		}
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=api"}); err != nil {
		b.Fatal(err)
	}
	return creates, listed
}
