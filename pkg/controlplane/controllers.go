package controlplane

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/configz"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// ControllerManager runs kube-controller-manager until ctx ends. It is ready
// once its configuration is built and its controllers start. It can run
// again after it ends, for each term this server leads.
func (cp *ControlPlane) ControllerManager(ctx context.Context, ready func()) error {
	// its configuration page is registered by name, once per process
	defer configz.Delete(cmapp.ConfigzName)
	c, err := cp.cm.Config(ctx, cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	if err != nil {
		return fmt.Errorf("kube-controller-manager config: %w", err)
	}
	ready()
	return cmapp.Run(ctx, c.Complete())
}

// Scheduler runs kube-scheduler until ctx ends; like the controller-manager
// it can run again.
func (cp *ControlPlane) Scheduler(ctx context.Context, ready func()) error {
	defer configz.Delete(schedulerConfigz)
	// the name is reserved per process, and taken again in a next term
	name, err := cache.NewInformerName("kube-scheduler")
	if err != nil {
		return err
	}
	defer name.Release()
	cp.scheduler.InformerName = name
	cc, sched, err := schedapp.Setup(ctx, cp.scheduler)
	if err != nil {
		return fmt.Errorf("kube-scheduler setup: %w", err)
	}
	ready()
	return schedapp.Run(ctx, cc, sched)
}

// schedulerConfigz is the name kube-scheduler's Run registers its
// configuration page under (upstream has no constant for it).
const schedulerConfigz = "componentconfig"
