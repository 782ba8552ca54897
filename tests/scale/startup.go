package scale

import (
	"context"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Startup records the start-up latency of the workload's pods as
// sig-scalability's SLO defines it: from the pod's creation timestamp to
// the moment a watch sees it running with every container started. The
// creation timestamp has whole seconds, so a latency may read up to a
// second long, never short.
type Startup struct {
	mu      sync.Mutex
	started map[types.UID]time.Duration
	stop    context.CancelFunc
	done    chan struct{}
}

// WatchStartup starts watching the workload's pods; Stop ends it.
func WatchStartup(cs kubernetes.Interface) *Startup {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Startup{started: map[types.UID]time.Duration{}, stop: cancel, done: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = PodLabel + "=pod"
	}))
	inf := f.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observe(obj, time.Now()) },
		UpdateFunc: func(_, obj any) { s.observe(obj, time.Now()) },
	})
	go func() {
		defer close(s.done)
		inf.Run(ctx.Done())
	}()
	return s
}

func (s *Startup) observe(obj any, now time.Time) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || !running(pod) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.started[pod.UID]; !seen {
		s.started[pod.UID] = now.Sub(pod.CreationTimestamp.Time)
	}
}

// running reports whether the pod runs with all its containers started.
func running(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) < len(pod.Spec.Containers) {
		return false
	}
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// Stop ends the watch.
func (s *Startup) Stop() {
	s.stop()
	<-s.done
}

// Latencies are the start-up latencies seen so far, shortest first. The
// watch starts before the workload is made, so that every pod counts from
// its creation; a start the watch missed (a relist after it broke) counts
// when the relist sees it, late rather than never.
func (s *Startup) Latencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Duration, 0, len(s.started))
	for _, d := range s.started {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Percentile is the p-th percentile (0 < p ≤ 100) of sorted durations, by
// the nearest rank; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
