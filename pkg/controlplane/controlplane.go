// Package controlplane runs the upstream kube-apiserver,
// kube-controller-manager and kube-scheduler inside the edgeos process.
//
// Each component is driven through its own options → config → run path,
// with arguments edgeos derives from its Config, so that upstream flag
// validation and defaults apply unchanged. All three option sets are built
// before any flag is parsed, because parsing closes the shared feature gates.
package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/edgeos/edgeos/pkg/liveness"
	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cliflag "k8s.io/component-base/cli/flag"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"
)

// Config is what the control plane needs from the server.
type Config struct {
	// APIServerArgs, ControllerManagerArgs and SchedulerArgs are upstream
	// flags as key → value, rendered as --key=value.
	APIServerArgs         map[string]string
	ControllerManagerArgs map[string]string
	SchedulerArgs         map[string]string
	// Listener is the apiserver's secure port, bound by the caller so that
	// a port in use fails before anything starts.
	Listener net.Listener
	// WrapHandler puts edgeos's own handlers (the node bootstrap API) in
	// front of the apiserver's handler chain, on the same port.
	WrapHandler func(http.Handler) http.Handler
	// IdentityLeaseRenewInterval is how often the apiserver renews its
	// identity Lease (valid one hour); 0 keeps upstream's 10 s. Upstream has
	// no flag for it, only a package variable, which New sets.
	IdentityLeaseRenewInterval time.Duration
	// APIGroups are served by the apiserver itself, installed as the
	// aggregator installs its own group: each needs a local APIService
	// (one without a service) to be listed in discovery.
	APIGroups []*genericapiserver.APIGroupInfo
}

// ControlPlane holds the parsed options of the three components.
type ControlPlane struct {
	cfg       Config
	apiserver *apiserveroptions.ServerRunOptions
	cm        *cmoptions.KubeControllerManagerOptions
	cmFlags   cliflag.NamedFlagSets
	scheduler *schedoptions.Options
	// the elections edgeos runs for the two components
	cmElection, schedElection Election
}

// New builds and parses the options of all three components.
func New(cfg Config) (*ControlPlane, error) {
	cp := &ControlPlane{cfg: cfg, apiserver: apiserveroptions.NewServerRunOptions(), scheduler: schedoptions.NewOptions()}
	cm, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, fmt.Errorf("controller-manager options: %w", err)
	}
	cp.cm = cm
	cp.cmFlags = cm.Flags(cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases())
	cm.ParsedFlags = &cp.cmFlags

	if err := parse("kube-apiserver", cp.apiserver.Flags(), cfg.APIServerArgs); err != nil {
		return nil, err
	}
	if err := parse("kube-controller-manager", cp.cmFlags, cfg.ControllerManagerArgs); err != nil {
		return nil, err
	}
	if err := parse("kube-scheduler", *cp.scheduler.Flags, cfg.SchedulerArgs); err != nil {
		return nil, err
	}
	if err := cp.takeElections(); err != nil {
		return nil, err
	}
	if err := cp.apiserver.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, err
	}
	if cfg.IdentityLeaseRenewInterval > 0 {
		controlplaneapiserver.IdentityLeaseRenewIntervalPeriod = cfg.IdentityLeaseRenewInterval
	}
	// The components' loopback clients watch deprecated APIs on purpose;
	// upstream silences client-go's warnings about them the same way.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	return cp, nil
}

// parse applies args to a component's flag sets.
func parse(component string, sets cliflag.NamedFlagSets, args map[string]string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	for _, name := range sets.Order {
		fs.AddFlagSet(sets.FlagSets[name])
	}
	if err := fs.Parse(multicall.Flags(args)); err != nil {
		return fmt.Errorf("%s: %w", component, err)
	}
	return nil
}

// APIServer runs kube-apiserver until ctx ends. ready is called once its
// /readyz answers ok: every post-start hook has run, the datastore and the
// informers are in sync.
func (cp *ControlPlane) APIServer(ctx context.Context, ready func()) error {
	s := cp.apiserver
	s.SecureServing.Listener = cp.cfg.Listener
	completed, err := s.Complete(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("kube-apiserver options: %v", errs)
	}
	config, err := apiserverapp.NewConfig(completed)
	if err != nil {
		return fmt.Errorf("kube-apiserver config: %w", err)
	}
	if wrap := cp.cfg.WrapHandler; wrap != nil {
		agg := config.Aggregator.GenericConfig
		build := agg.BuildHandlerChainFunc
		agg.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
			return wrap(build(h, c))
		}
	}
	kubeAPIs := config.KubeAPIs.ControlPlane.Generic
	skipOpenAPI(kubeAPIs)
	routeOperations(kubeAPIs.OpenAPIConfig, kubeAPIs.OpenAPIV3Config)
	cc, err := config.Complete()
	if err != nil {
		return err
	}
	server, err := apiserverapp.CreateServerChain(cc)
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	for _, g := range cp.cfg.APIGroups {
		if err := server.GenericAPIServer.InstallAPIGroup(g); err != nil {
			return fmt.Errorf("kube-apiserver: %w", err)
		}
	}
	if err := installOpenAPI(server.GenericAPIServer, kubeAPIs.OpenAPIConfig, kubeAPIs.OpenAPIV3Config); err != nil {
		return err
	}
	prepared, err := server.PrepareRun()
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	dropOpenAPIDefinitions(kubeAPIs.OpenAPIV3Config)
	readyz, err := kubernetes.NewForConfig(server.GenericAPIServer.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("kube-apiserver loopback client: %w", err)
	}
	// cancel, then wait: what wg runs ends with ctx, also when Run fails
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dead := make(chan error, 1)
	wg.Go(func() {
		c := readyz.Discovery().RESTClient()
		if waitReadyz(ctx, c) != nil {
			return
		}
		ready()
		// the datastore is left out: its outage is not cured by a restart
		err := liveness.Watch(ctx, livezPeriod, livezFailures, func(ctx context.Context) error {
			_, err := c.Get().AbsPath("/livez").Param("exclude", "etcd").DoRaw(ctx)
			return err
		})
		if err != nil {
			dead <- fmt.Errorf("kube-apiserver /livez: %w", err)
			cancel()
		}
	})
	err = prepared.Run(ctx)
	select {
	case d := <-dead:
		return d
	default:
		return err
	}
}

// The apiserver's liveness: a failed /livez for 5 minutes ends it.
const (
	livezPeriod   = time.Minute
	livezFailures = 5
)

// waitReadyz asks the apiserver's /readyz, as its own loopback client,
// until it answers ok or ctx ends.
func waitReadyz(ctx context.Context, c rest.Interface) error {
	for {
		if body, err := c.Get().AbsPath("/readyz").DoRaw(ctx); err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
