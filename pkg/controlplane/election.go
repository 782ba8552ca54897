package controlplane

import (
	"fmt"

	"github.com/edgeos/edgeos/pkg/leader"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	schedlatest "k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
)

// Election is a component's leader election as its flags (and the
// scheduler's configuration file) ask for it.
type Election = componentbaseconfig.LeaderElectionConfiguration

// ControllerManagerElection is the controller-manager's election. The
// component itself never runs one: upstream's ends the whole process when
// its Lease is lost, and that process is the API server and a node too.
// edgeos elects instead and runs the component while this server leads.
func (cp *ControlPlane) ControllerManagerElection() Election { return cp.cmElection }

// SchedulerElection is the scheduler's election, run by edgeos as the
// controller-manager's is.
func (cp *ControlPlane) SchedulerElection() Election { return cp.schedElection }

// ElectionTiming is e's timing for edgeos's elector.
func ElectionTiming(e Election) leader.Timing {
	return leader.Timing{LeaseDuration: e.LeaseDuration.Duration, RenewDeadline: e.RenewDeadline.Duration, RetryPeriod: e.RetryPeriod.Duration}
}

// takeElections keeps the components' elections and turns them off in
// the components' own options.
func (cp *ControlPlane) takeElections() error {
	cm := takeControllerManagerElection(cp.cm)
	sched, err := takeSchedulerElection(cp.scheduler)
	if err != nil {
		return err
	}
	for component, e := range map[string]Election{"kube-controller-manager": cm, "kube-scheduler": sched} {
		if !e.LeaderElect {
			continue
		}
		// the only lock upstream still has
		if e.ResourceLock != "leases" {
			return fmt.Errorf("%s: leader-elect-resource-lock %q: only leases is supported", component, e.ResourceLock)
		}
		if err := ElectionTiming(e).Check(); err != nil {
			return fmt.Errorf("%s: leader election: %w", component, err)
		}
	}
	cp.cmElection, cp.schedElection = cm, sched
	return nil
}

func takeControllerManagerElection(o *cmoptions.KubeControllerManagerOptions) Election {
	e := o.Generic.LeaderElection
	o.Generic.LeaderElection.LeaderElect = false
	return e
}

// takeSchedulerElection resolves the election as the scheduler would:
// its defaults, then its configuration file, then its flags.
func takeSchedulerElection(o *schedoptions.Options) (Election, error) {
	cfg, err := schedlatest.Default()
	if err != nil {
		return Election{}, err
	}
	if o.ConfigFile != "" {
		if cfg, err = schedoptions.LoadConfigFromFile(klog.Background(), o.ConfigFile); err != nil {
			return Election{}, fmt.Errorf("kube-scheduler: %w", err)
		}
	}
	o.ApplyLeaderElectionTo(cfg)
	e := cfg.LeaderElection
	// a flag set on the command line wins over the file
	if err := o.Flags.FlagSet("leader election").Set("leader-elect", "false"); err != nil {
		return Election{}, fmt.Errorf("kube-scheduler: %w", err)
	}
	return e, nil
}
