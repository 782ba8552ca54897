package helm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/release/common"
	rv1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// FieldManager is the name Helm's writes carry in managedFields, from the
// controller and from `edgeos helm` alike, so that either may upgrade what
// the other installed; it is a standalone helm's own.
const FieldManager = "helm"

// getter gives Helm the server's connection, with discovery cached in
// memory (never in a file under $HOME, which a server must not write).
type getter struct {
	rc        *rest.Config
	disc      discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
	namespace string
}

func (g getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.rc), nil }
func (g getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.disc, nil
}
func (g getter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }
func (g getter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["edgeos"] = &clientcmdapi.Cluster{Server: g.rc.Host}
	cfg.Contexts["edgeos"] = &clientcmdapi.Context{Cluster: "edgeos", Namespace: g.namespace}
	cfg.CurrentContext = "edgeos"
	return clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{})
}

// releases does Helm's operations on the releases of one namespace.
type releases struct {
	cfg *action.Configuration
}

func newReleases(g getter, log slog.Handler) (*releases, error) {
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(log))
	if err := cfg.Init(g, g.namespace, "secret"); err != nil {
		return nil, err
	}
	return &releases{cfg: cfg}, nil
}

// last is a release's newest revision; nil when it has none.
func (r *releases) last(name string) (*rv1.Release, error) {
	rel, err := r.cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return asV1(rel)
}

func asV1(rel ri.Releaser) (*rv1.Release, error) {
	v1, ok := rel.(*rv1.Release)
	if !ok {
		return nil, fmt.Errorf("release of an unknown format %T", rel)
	}
	return v1, nil
}

// everDeployed reports whether a release has a deployed revision to
// upgrade from.
func (r *releases) everDeployed(name string) bool {
	_, err := r.cfg.Releases.Deployed(name)
	return err == nil
}

// operation is what one install or upgrade is told.
type operation struct {
	name, namespace string
	chart           *chartv2.Chart
	values          map[string]any
	timeout         time.Duration
	spec            Spec
}

func (r *releases) install(ctx context.Context, op operation) (*rv1.Release, error) {
	in := action.NewInstall(r.cfg)
	in.ReleaseName, in.Namespace = op.name, op.namespace
	in.CreateNamespace = op.spec.CreateNamespace
	in.Timeout = op.timeout
	// what `helm install` without --wait does: hooks are waited for
	in.WaitStrategy = kube.HookOnlyStrategy
	in.TakeOwnership, in.ForceConflicts = op.spec.TakeOwnership, op.spec.ForceConflicts
	if op.spec.ServerSide == "false" {
		in.ServerSideApply = false
	}
	rel, err := in.RunWithContext(ctx, op.chart, op.values)
	if err != nil {
		return nil, err
	}
	return asV1(rel)
}

func (r *releases) upgrade(ctx context.Context, op operation) (*rv1.Release, error) {
	up := action.NewUpgrade(r.cfg)
	up.Namespace = op.namespace
	up.Timeout = op.timeout
	up.WaitStrategy = kube.HookOnlyStrategy
	up.TakeOwnership, up.ForceConflicts = op.spec.TakeOwnership, op.spec.ForceConflicts
	if op.spec.ServerSide != "" {
		up.ServerSideApply = op.spec.ServerSide
	}
	// the values are the HelmChart's whole: none of an earlier revision's
	up.ResetValues = true
	up.MaxHistory = 10
	rel, err := up.RunWithContext(ctx, op.name, op.chart, op.values)
	if err != nil {
		return nil, err
	}
	return asV1(rel)
}

// uninstall removes a release and its history; none is not an error.
func (r *releases) uninstall(name string, timeout time.Duration) error {
	un := action.NewUninstall(r.cfg)
	un.IgnoreNotFound = true
	un.Timeout = timeout
	un.WaitStrategy = kube.HookOnlyStrategy
	_, err := un.Run(name)
	return err
}

// rollback goes back to the revision before the last.
func (r *releases) rollback(name string, timeout time.Duration) error {
	rb := action.NewRollback(r.cfg)
	rb.Timeout = timeout
	rb.WaitStrategy = kube.HookOnlyStrategy
	return rb.Run(name)
}

// pending reports whether a release was left mid-operation: by this
// server, stopped in the middle (the controller is the only one to run
// operations here, and it runs one at a time).
func pending(rel *rv1.Release) bool {
	if rel == nil || rel.Info == nil {
		return false
	}
	switch rel.Info.Status {
	case common.StatusPendingInstall, common.StatusPendingUpgrade, common.StatusPendingRollback, common.StatusUninstalling:
		return true
	}
	return false
}
