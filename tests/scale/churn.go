package scale

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Churn is the steady change driven through the API once the workload
// runs, one tick a second for Duration: ConfigMaps and Secrets updated
// each tick, a Deployment scaled by ScaleBy every ScaleEvery ticks and one
// rolled out (a new template, so every pod replaced) every RolloutEvery.
type Churn struct {
	Duration                          time.Duration
	ConfigMapsPerTick, SecretsPerTick int
	ScaleEvery, RolloutEvery          int
	ScaleBy                           int
}

// DefaultChurn is two object updates a second, a scale every 2 s and a
// rollout every 10 s: with Deployments of 30 pods, about 6 pods created and
// as many deleted a second.
func DefaultChurn(d time.Duration) Churn {
	return Churn{Duration: d, ConfigMapsPerTick: 1, SecretsPerTick: 1, ScaleEvery: 2, RolloutEvery: 10, ScaleBy: 5}
}

// op is one change of the churn.
type op struct {
	kind      string // "configmap", "secret", "scale", "rollout"
	namespace string
	name      string
	value     int // the revision written, or the replicas scaled to
}

// plan is what tick t changes: a pure function of the workload and the
// tick, so that a run can be replayed and the plan tested alone. Updates
// go round the namespaces first, then their objects; the s-th scale takes
// Deployment s mod D up by ScaleBy on even rounds over the D Deployments
// and back down on odd ones; the r-th rollout writes revision r+1 into
// Deployment r mod D.
func (c Churn) plan(w Workload, t int) []op {
	var ops []op
	objects := w.Namespaces * w.ObjectsPerNamespace
	deployments := w.Namespaces * w.DeploymentsPerNamespace
	if objects > 0 {
		for i := range c.ConfigMapsPerTick {
			k := t*c.ConfigMapsPerTick + i
			ops = append(ops, op{kind: "configmap", namespace: w.Namespace(k % w.Namespaces), name: ConfigMap(k / w.Namespaces % w.ObjectsPerNamespace), value: k + 1})
		}
		for i := range c.SecretsPerTick {
			k := t*c.SecretsPerTick + i
			ops = append(ops, op{kind: "secret", namespace: w.Namespace(k % w.Namespaces), name: Secret(k / w.Namespaces % w.ObjectsPerNamespace), value: k + 1})
		}
	}
	if deployments == 0 {
		return ops
	}
	deployment := func(k int) (string, string) {
		k %= deployments
		return w.Namespace(k % w.Namespaces), Deployment(k / w.Namespaces)
	}
	if c.ScaleEvery > 0 && t%c.ScaleEvery == 0 {
		s := t / c.ScaleEvery
		ns, name := deployment(s)
		replicas := w.Replicas
		if s/deployments%2 == 0 {
			replicas += c.ScaleBy
		}
		ops = append(ops, op{kind: "scale", namespace: ns, name: name, value: replicas})
	}
	if c.RolloutEvery > 0 && t%c.RolloutEvery == 0 {
		r := t / c.RolloutEvery
		ns, name := deployment(r)
		ops = append(ops, op{kind: "rollout", namespace: ns, name: name, value: r + 1})
	}
	return ops
}

// ChurnReport is what the churn did and what its client saw.
type ChurnReport struct {
	Ops, Errors map[string]int
	// FirstErrors keeps a few of the errors, the first of each kind.
	FirstErrors []string
	// Locked counts errors that named SQLite's "database is locked".
	Locked int
}

// ErrorCount is the number of failed changes.
func (r ChurnReport) ErrorCount() int {
	n := 0
	for _, e := range r.Errors {
		n += e
	}
	return n
}

func (r ChurnReport) String() string {
	kinds := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d (%d failed)", k, r.Ops[k], r.Errors[k]))
	}
	return strings.Join(parts, ", ")
}

// Run drives the churn through cs until its Duration is over or ctx ends,
// each tick's changes at once and not waiting for the tick before (so a
// slow API does not slow the rate), and waits for the last of them.
func (c Churn) Run(ctx context.Context, cs kubernetes.Interface, w Workload) ChurnReport {
	rep := ChurnReport{Ops: map[string]int{}, Errors: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	ticks := int(c.Duration / time.Second)
	for t := 0; t < ticks; t++ {
		for _, o := range c.plan(w, t) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := o.apply(ctx, cs)
				mu.Lock()
				defer mu.Unlock()
				rep.Ops[o.kind]++
				if err != nil {
					rep.Errors[o.kind]++
					if rep.Errors[o.kind] == 1 {
						rep.FirstErrors = append(rep.FirstErrors, fmt.Sprintf("%s %s/%s: %v", o.kind, o.namespace, o.name, err))
					}
					if strings.Contains(err.Error(), "database is locked") {
						rep.Locked++
					}
				}
			}()
		}
		select {
		case <-ctx.Done():
			t = ticks
		case <-ticker.C:
		}
	}
	wg.Wait()
	return rep
}

func (o op) apply(ctx context.Context, cs kubernetes.Interface) error {
	var patch string
	switch o.kind {
	case "configmap":
		patch = fmt.Sprintf(`{"data":{"revision":"%d"}}`, o.value)
		_, err := cs.CoreV1().ConfigMaps(o.namespace).Patch(ctx, o.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	case "secret":
		patch = fmt.Sprintf(`{"stringData":{"revision":"%d"}}`, o.value)
		_, err := cs.CoreV1().Secrets(o.namespace).Patch(ctx, o.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	case "scale":
		patch = fmt.Sprintf(`{"spec":{"replicas":%d}}`, o.value)
	case "rollout":
		patch = fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"scale/revision":"%d"}}}}}`, o.value)
	default:
		return fmt.Errorf("unknown change %q", o.kind)
	}
	_, err := cs.AppsV1().Deployments(o.namespace).Patch(ctx, o.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}
