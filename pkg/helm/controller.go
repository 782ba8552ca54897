package helm

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/edgeos/edgeos/pkg/crd"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/sirupsen/logrus"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release/common"
	rv1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

//go:embed crds.yaml
var crdsYAML []byte

var (
	chartGVR  = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}
	configGVR = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmchartconfigs"}
)

// Finalizer holds a HelmChart until its release is uninstalled.
const Finalizer = "helm.edgeos.io/uninstall"

// manager writes the HelmChart CRDs, finalizers and status.
const manager = "edgeos-helm"

// Config is what the controller is told.
type Config struct {
	// Kubeconfig connects with the rights to install anything.
	Kubeconfig string
	// StaticDir holds the charts named by StaticPrefix.
	StaticDir string
	// WorkDir is the controller's: Helm's repository cache.
	WorkDir string
}

// Controller installs, upgrades and uninstalls HelmCharts.
type Controller struct {
	cfg Config
}

// New makes a controller.
func New(cfg Config) *Controller { return &Controller{cfg: cfg} }

func (c *Controller) Name() string { return "helm-controller" }

// Run serves HelmCharts until ctx ends.
func (c *Controller) Run(ctx context.Context, ready func()) error {
	for _, dir := range []string{c.cfg.StaticDir, c.cfg.WorkDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	clients, err := kubeconfig.Connect(c.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	rc, cs, dc := clients.REST, clients.Typed, clients.Dynamic
	if err := crd.Ensure(ctx, dc, manager, crdsYAML); err != nil {
		return err
	}
	// Helm's writes are a standalone helm's (see FieldManager)
	kube.ManagedFieldsManager = FieldManager
	cached := memory.NewMemCacheClient(clients.Discovery)
	recorder, stopEvents := watch.Recorder(ctx, cs, "edgeos-helm")
	defer stopEvents()
	r := &reconciler{
		dc: dc, cs: cs, rc: rc, disc: cached,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapper(cached),
		sources:  sources{static: c.cfg.StaticDir, work: c.cfg.WorkDir, cs: cs},
		recorder: recorder,
		log:      logHandler{},
		state:    map[string]*attempts{},
		done:     map[string]string{},
		started:  time.Now(),
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(dc, 0)
	charts, configs := factory.ForResource(chartGVR).Informer(), factory.ForResource(configGVR).Informer()
	r.charts, r.configs = charts.GetStore(), configs.GetStore()
	return watch.Loop(ctx, c.Name(), factory, []cache.SharedIndexInformer{charts, configs},
		watch.Pause{AfterError: retryEvery}, ready, r.pass)
}

// retryEvery is how often a pass looks again while a chart waits for its
// next attempt.
const retryEvery = 10 * time.Second

// attempts is what the controller knows of a chart's tries with the same
// inputs (see done).
type attempts struct {
	inputs   string
	failures int
	next     time.Time
	// given up: abort, or the backOffLimit reached, until the chart changes
	stopped bool
}

type reconciler struct {
	dc              dynamic.Interface
	cs              kubernetes.Interface
	rc              *rest.Config
	disc            discovery.CachedDiscoveryInterface
	mapper          *restmapper.DeferredDiscoveryRESTMapper
	sources         sources
	recorder        record.EventRecorder
	log             slog.Handler
	charts, configs cache.Store
	state           map[string]*attempts
	// done: what each chart was made of (generation, config and Secret
	// versions) when its release was last found as asked
	done map[string]string
	// started: a release left pending from before is this server's own
	started time.Time
}

// errWaiting asks the loop to look again: a chart waits for its next try.
var errWaiting = watch.Quietly(errors.New("a chart waits for its next attempt"))

// pass reconciles every HelmChart.
func (r *reconciler) pass(ctx context.Context) error {
	var list []*unstructured.Unstructured
	for _, o := range r.charts.List() {
		list = append(list, o.(*unstructured.Unstructured))
	}
	sort.Slice(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
	seen := map[string]bool{}
	var waiting bool
	for _, u := range list {
		seen[key(u)] = true
		err := r.reconcile(ctx, u.DeepCopy())
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			waiting = true
			if !errors.Is(err, errWaiting) {
				logrus.Warnf("HelmChart %s: %v", key(u), err)
			}
		}
	}
	for k := range r.state {
		if !seen[k] {
			delete(r.state, k)
		}
	}
	for k := range r.done {
		if !seen[k] {
			delete(r.done, k)
		}
	}
	if waiting {
		return errWaiting
	}
	return nil
}

func key(u *unstructured.Unstructured) string { return u.GetNamespace() + "/" + u.GetName() }

// reconcile brings one HelmChart's release where its spec says.
func (r *reconciler) reconcile(ctx context.Context, u *unstructured.Unstructured) error {
	var spec Spec
	specErr := decode(u, &spec)
	target := spec.TargetNamespace
	if target == "" {
		target = u.GetNamespace()
	}
	timeout, timeoutErr := spec.timeout()
	if timeoutErr != nil {
		timeout = defaultTimeout
	}
	if u.GetDeletionTimestamp() != nil {
		delete(r.done, key(u))
		rels, err := r.releases(target)
		if err != nil {
			return err
		}
		return r.remove(ctx, u, rels, timeout)
	}
	if err := errors.Join(specErr, timeoutErr); err != nil {
		return r.fail(ctx, u, "InvalidSpec", err, false)
	}
	if !slices.Contains(u.GetFinalizers(), Finalizer) {
		u.SetFinalizers(append(u.GetFinalizers(), Finalizer))
		updated, err := r.dc.Resource(chartGVR).Namespace(u.GetNamespace()).Update(ctx, u, metav1.UpdateOptions{FieldManager: manager})
		if err != nil {
			return err
		}
		u = updated
	}
	var config *ConfigSpec
	configVersion := ""
	if o, ok, _ := r.configs.GetByKey(key(u)); ok {
		config = &ConfigSpec{}
		configVersion = o.(*unstructured.Unstructured).GetResourceVersion()
		if err := decode(o.(*unstructured.Unstructured), config); err != nil {
			return r.fail(ctx, u, "InvalidSpec", err, false)
		}
	}
	secrets, secretVersions, err := r.valuesSecrets(ctx, u.GetNamespace(), spec, config)
	if err != nil {
		return r.fail(ctx, u, "ValuesNotFound", err, true)
	}
	// nothing it is made of changed since it was last done: no download
	inputs := fmt.Sprintf("%d %s %v", u.GetGeneration(), configVersion, secretVersions)
	if r.done[key(u)] == inputs {
		return nil
	}
	// what was done is for other inputs: coming back to them (a config
	// added, then removed) must not pass for done
	delete(r.done, key(u))
	st := r.state[key(u)]
	if st == nil || st.inputs != inputs {
		st = &attempts{inputs: inputs}
		r.state[key(u)] = st
	}
	switch {
	case st.stopped:
		return nil
	case time.Now().Before(st.next):
		return errWaiting
	}
	rels, err := r.releases(target)
	if err != nil {
		return err
	}
	pol, err := policy(spec, config)
	if err != nil {
		return r.fail(ctx, u, "InvalidSpec", err, false)
	}
	archive, err := r.sources.fetch(ctx, u.GetNamespace(), spec)
	if err != nil {
		// may come by itself (a repository back online): tried again,
		// backing off, whatever the policy
		return r.failed(ctx, u, st, PolicyRetry, "ChartNotFound", err, spec)
	}
	chart, err := load(archive)
	if err != nil {
		return r.fail(ctx, u, "InvalidChart", err, false)
	}
	values, err := Values(ValueFiles{Chart: spec, Config: config, Secrets: secrets})
	if err != nil {
		return r.fail(ctx, u, "InvalidValues", err, false)
	}
	digest, err := Digest(archive, values, target)
	if err != nil {
		return err
	}
	last, err := rels.last(u.GetName())
	if err != nil {
		return err
	}
	applied, _, _ := unstructured.NestedString(u.Object, "status", "digest")
	if last != nil && last.Info.Status == common.StatusDeployed && applied == digest {
		// as asked, or changed by hand since (a rollback): left as it is
		r.done[key(u)] = inputs
		return nil
	}
	op := operation{name: u.GetName(), namespace: target, chart: chart, values: values, timeout: timeout, spec: spec}
	if last, err = r.recover(ctx, u, rels, last, timeout); errors.Is(err, errBusy) {
		logrus.Debugf("HelmChart %s: %v", key(u), err)
		st.next = time.Now().Add(retryEvery)
		return errWaiting
	} else if err != nil {
		return r.failed(ctx, u, st, pol, "RecoveryFailed", err, spec)
	}
	if last != nil && last.Info.Status == common.StatusFailed && (pol == PolicyReinstall || !rels.everDeployed(last.Name)) {
		// k3s's reinstall: what the failed attempt left goes first; a
		// release that never deployed cannot be upgraded either
		if err := rels.uninstall(u.GetName(), timeout); err != nil {
			return r.failed(ctx, u, st, pol, "UninstallFailed", err, spec)
		}
		last = nil
	}
	opCtx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	var rel *rv1.Release
	verb, failure := "Installed", "InstallFailed"
	if last == nil || last.Info.Status == common.StatusUninstalled {
		rel, err = rels.install(opCtx, op)
	} else {
		verb, failure = "Upgraded", "UpgradeFailed"
		rel, err = rels.upgrade(opCtx, op)
	}
	if err != nil {
		return r.failed(ctx, u, st, pol, failure, err, spec)
	}
	delete(r.state, key(u))
	r.done[key(u)] = inputs
	msg := fmt.Sprintf("%s %s %s as release %s/%s, revision %d", verb, chart.Metadata.Name, chart.Metadata.Version, target, rel.Name, rel.Version)
	logrus.Infof("HelmChart %s: %s", key(u), msg)
	r.recorder.Event(u, corev1.EventTypeNormal, verb, msg)
	return r.status(ctx, u, status{digest: digest, revision: rel.Version, deployed: true, reason: verb, message: msg})
}

// releases is Helm's view of the releases of a namespace.
func (r *reconciler) releases(namespace string) (*releases, error) {
	return newReleases(getter{rc: r.rc, disc: r.disc, mapper: r.mapper, namespace: namespace}, r.log)
}

// recover finishes what a stopped server left: a release pending since
// before this server started (or for longer than an operation may take)
// is rolled back to its last good revision, or uninstalled when it has
// none.
func (r *reconciler) recover(ctx context.Context, u *unstructured.Unstructured, rels *releases, last *rv1.Release, timeout time.Duration) (*rv1.Release, error) {
	if !pending(last) {
		return last, nil
	}
	since := last.Info.LastDeployed
	if since.After(r.started) && time.Since(since) < timeout {
		return nil, fmt.Errorf("release %s is %s: %w", last.Name, last.Info.Status, errBusy)
	}
	msg := fmt.Sprintf("release %s was left %s at revision %d", last.Name, last.Info.Status, last.Version)
	var err error
	if last.Info.Status == common.StatusPendingInstall || last.Version == 1 {
		msg += "; uninstalled it to install again"
		err = rels.uninstall(last.Name, timeout)
	} else {
		msg += "; rolled it back"
		err = rels.rollback(last.Name, timeout)
	}
	if err != nil {
		return nil, err
	}
	logrus.Infof("HelmChart %s: %s", key(u), msg)
	r.recorder.Event(u, corev1.EventTypeNormal, "Recovered", msg)
	return rels.last(last.Name)
}

// errBusy is a release another operation (`edgeos helm`) is working on.
var errBusy = errors.New("another operation is under way")

// failed records a failed operation and when to try again, by policy.
func (r *reconciler) failed(ctx context.Context, u *unstructured.Unstructured, st *attempts, pol, reason string, err error, spec Spec) error {
	st.failures++
	switch {
	case pol == PolicyAbort:
		st.stopped = true
		err = fmt.Errorf("%v (failurePolicy abort: not tried again until the HelmChart changes)", err)
	case st.failures >= spec.backOffLimit():
		st.stopped = true
		err = fmt.Errorf("%v (failed %d times, the backOffLimit: not tried again until the HelmChart changes)", err, st.failures)
	default:
		st.next = time.Now().Add(backoff(st.failures))
	}
	if serr := r.fail(ctx, u, reason, err, false); serr != nil && !errors.Is(serr, errWaiting) {
		return serr
	}
	if st.stopped {
		return nil
	}
	return errWaiting
}

// backoff is the wait after n failures: 10 s, doubling, at most 5 min.
func backoff(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// fail records a failure in the status and an Event. A failure that may
// pass by itself (a chart not reachable yet) asks for another look.
func (r *reconciler) fail(ctx context.Context, u *unstructured.Unstructured, reason string, err error, transient bool) error {
	msg := err.Error()
	prev := conditionOf(u, "Failed")
	if prev != nil && prev.Status == "True" && prev.Reason == reason && prev.Message == msg {
		// told already: no Event, no write
		if transient {
			return errWaiting
		}
		return nil
	}
	logrus.Warnf("HelmChart %s: %s", key(u), msg)
	r.recorder.Event(u, corev1.EventTypeWarning, reason, msg)
	applied, _, _ := unstructured.NestedString(u.Object, "status", "digest")
	revision, _, _ := unstructured.NestedInt64(u.Object, "status", "revision")
	if serr := r.status(ctx, u, status{digest: applied, revision: int(revision), reason: reason, message: msg}); serr != nil {
		return serr
	}
	if transient {
		return errWaiting
	}
	return nil
}

// remove uninstalls the release of a HelmChart being deleted, then lets
// it go.
func (r *reconciler) remove(ctx context.Context, u *unstructured.Unstructured, rels *releases, timeout time.Duration) error {
	if !slices.Contains(u.GetFinalizers(), Finalizer) {
		return nil
	}
	if err := rels.uninstall(u.GetName(), timeout); err != nil {
		return fmt.Errorf("uninstalling release %s: %w", u.GetName(), err)
	}
	r.recorder.Event(u, corev1.EventTypeNormal, "Uninstalled", "uninstalled release "+u.GetName())
	logrus.Infof("HelmChart %s is deleted: uninstalled its release", key(u))
	u.SetFinalizers(slices.DeleteFunc(u.GetFinalizers(), func(f string) bool { return f == Finalizer }))
	_, err := r.dc.Resource(chartGVR).Namespace(u.GetNamespace()).Update(ctx, u, metav1.UpdateOptions{FieldManager: manager})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// valuesSecrets reads the Secrets the chart's values come from, and the
// versions of those whose updates count (not ignoreUpdates).
func (r *reconciler) valuesSecrets(ctx context.Context, namespace string, spec Spec, config *ConfigSpec) (map[string]map[string][]byte, []string, error) {
	refs := append([]SecretValues(nil), spec.ValuesSecrets...)
	if config != nil {
		refs = append(refs, config.ValuesSecrets...)
	}
	out := map[string]map[string][]byte{}
	var versions []string
	for _, ref := range refs {
		if _, ok := out[ref.Name]; ok {
			continue
		}
		sec, err := r.cs.CoreV1().Secrets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("valuesSecrets: %v", err)
		}
		out[ref.Name] = sec.Data
		if !ref.IgnoreUpdates {
			versions = append(versions, sec.Name+"@"+sec.ResourceVersion)
		}
	}
	return out, versions, nil
}
