package controlplane

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/cache"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// ControllerManager runs kube-controller-manager until ctx ends. It is ready
// once its configuration is built and its controllers start.
func (cp *ControlPlane) ControllerManager(ctx context.Context, ready func()) error {
	c, err := cp.cm.Config(ctx, cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	if err != nil {
		return fmt.Errorf("kube-controller-manager config: %w", err)
	}
	ready()
	return cmapp.Run(ctx, c.Complete())
}

// Scheduler runs kube-scheduler until ctx ends.
func (cp *ControlPlane) Scheduler(ctx context.Context, ready func()) error {
	if cp.scheduler.InformerName == nil {
		name, err := cache.NewInformerName("kube-scheduler")
		if err != nil {
			return err
		}
		cp.scheduler.InformerName = name
	}
	cc, sched, err := schedapp.Setup(ctx, cp.scheduler)
	if err != nil {
		return fmt.Errorf("kube-scheduler setup: %w", err)
	}
	ready()
	return schedapp.Run(ctx, cc, sched)
}
