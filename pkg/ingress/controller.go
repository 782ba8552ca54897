package ingress

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/edgeos/edgeos/pkg/lb"
	"github.com/edgeos/edgeos/pkg/watch"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// EventSource is the component the controller's Events carry.
const EventSource = "edgeos-ingress"

// Controller is the server side of the ingress: the IngressClass, each
// Ingress's status and Events, and the certificates' copy for the nodes.
type Controller struct {
	cs    kubernetes.Interface
	ports Ports
	// told is what each Ingress was last told, so an Event is recorded
	// when a problem appears, not on every pass.
	told map[string]map[string]bool
	// written is the certificates' copy as last written (nil: unknown)
	written map[string][]byte
}

// NewController makes the controller for proxies on ports.
func NewController(cs kubernetes.Interface, ports Ports) *Controller {
	return &Controller{cs: cs, ports: ports, told: map[string]map[string]bool{}}
}

func (c *Controller) Name() string { return "ingress" }

// Run makes sure the IngressClass exists with the proxies' ports, then
// follows Ingresses and what they name; ready once the watches have synced.
func (c *Controller) Run(ctx context.Context, ready func()) error {
	if err := c.ensureClass(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(c.cs, 0)
	tlsOnly := informers.NewSharedInformerFactoryWithOptions(c.cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)).String()
	}))
	// with the EndpointSlices: a LoadBalancer Service with
	// externalTrafficPolicy Local holds ports only where its endpoints are
	l := newListers(factory, true)
	secrets := tlsOnly.Core().V1().Secrets()
	nodes := factory.Core().V1().Nodes()
	recorder, stop := watch.Recorder(ctx, c.cs, EventSource)
	defer stop()
	infs := append(l.infs, secrets.Informer(), nodes.Informer())
	return watch.Loop(ctx, "Ingress", watch.Factories{factory, tlsOnly}, infs, watch.DefaultPause, ready, func(ctx context.Context) error {
		in, class, err := l.read()
		s, err1 := secrets.Lister().List(labels.Everything())
		n, err2 := nodes.Lister().List(labels.Everything())
		if err := errors.Join(err, err1, err2); err != nil {
			return err
		}
		return c.pass(ctx, recorder, in, class, s, n)
	})
}

// ensureClass creates the IngressClass, or sets the ports on the one there
// (leaving whether it is the default to the cluster's administrator).
func (c *Controller) ensureClass(ctx context.Context) error {
	classes := c.cs.NetworkingV1().IngressClasses()
	want := NewClass(c.ports)
	have, err := classes.Get(ctx, ClassName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = classes.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return c.ensureClass(ctx)
		}
		return err
	}
	if err != nil {
		return err
	}
	if have.Spec.Controller != ControllerName {
		return fmt.Errorf("IngressClass %s exists for controller %s: delete it, or start with --disable ingress", ClassName, have.Spec.Controller)
	}
	if got, err := PortsOf(have); err == nil && got == c.ports {
		return nil
	}
	if have.Annotations == nil {
		have.Annotations = map[string]string{}
	}
	have.Annotations[HTTPPortAnnotation] = strconv.Itoa(c.ports.HTTP)
	have.Annotations[HTTPSPortAnnotation] = strconv.Itoa(c.ports.HTTPS)
	_, err = classes.Update(ctx, have, metav1.UpdateOptions{})
	return err
}

// RemoveClass deletes the IngressClass edgeos made, which turns every
// node's proxy off (--disable ingress).
func RemoveClass(ctx context.Context, cs kubernetes.Interface) error {
	have, err := cs.NetworkingV1().IngressClasses().Get(ctx, ClassName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && have.Spec.Controller != ControllerName) {
		return nil
	}
	if err != nil {
		return err
	}
	err = cs.NetworkingV1().IngressClasses().Delete(ctx, ClassName, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) pass(ctx context.Context, recorder record.EventRecorder, in Inputs, class *networkingv1.IngressClass, secrets []*corev1.Secret, nodes []*corev1.Node) error {
	var errs []error
	byKey := map[string]*corev1.Secret{}
	for _, s := range secrets {
		byKey[s.Namespace+"/"+s.Name] = s
	}
	certs, pairs := usableCerts(in.Ingresses, byKey)
	data, left := CertificatesData(pairs)
	in.Certs = certs
	_, problems := Build(in)
	for _, k := range left {
		for _, ing := range in.Ingresses {
			for _, t := range ing.Spec.TLS {
				if ing.Namespace+"/"+t.SecretName == k {
					problems = append(problems, Problem{Ingress: Key(ing), Reason: "TooManyCertificates", Message: fmt.Sprintf("the certificates of all Ingresses exceed %d KiB; Secret %s is not served", maxCertificateBytes>>10, k)})
				}
			}
		}
	}
	errs = append(errs, c.writeCertificates(ctx, data))

	addresses, lost := c.addresses(in, class, nodes)
	for _, ing := range in.Ingresses {
		for node, why := range lost {
			problems = append(problems, Problem{Ingress: Key(ing), Reason: "PortInUse", Message: fmt.Sprintf("not served on node %s: %s", node, why)})
		}
		errs = append(errs, c.setStatus(ctx, ing, addresses))
	}
	c.tell(recorder, in.Ingresses, problems)
	return errors.Join(errs...)
}

// addresses are those of the nodes that serve the Ingresses: Ready ones
// whose proxy listens and where no older LoadBalancer Service holds a
// port of the proxy's.
func (c *Controller) addresses(in Inputs, class *networkingv1.IngressClass, nodes []*corev1.Node) ([]string, map[string]string) {
	cl := claim(in.Ingresses, c.ports, nodes)
	if cl == nil || class == nil {
		return nil, nil
	}
	lost := lb.Lost(in.Services, nodes, in.Slices, *cl)
	var out []string
	for _, n := range ServingNodes(nodes) {
		if _, gone := lost[n.Name]; !gone {
			if ip := lb.NodeAddress(n); ip != "" {
				out = append(out, ip)
			}
		}
	}
	slices.Sort(out)
	return out, lost
}

func (c *Controller) setStatus(ctx context.Context, ing *networkingv1.Ingress, ips []string) error {
	var want []networkingv1.IngressLoadBalancerIngress
	for _, ip := range ips {
		want = append(want, networkingv1.IngressLoadBalancerIngress{IP: ip})
	}
	have := ing.Status.LoadBalancer.Ingress
	if slices.EqualFunc(have, want, func(a, b networkingv1.IngressLoadBalancerIngress) bool {
		return a.IP == b.IP && a.Hostname == b.Hostname
	}) {
		return nil
	}
	update := ing.DeepCopy()
	update.Status.LoadBalancer.Ingress = want
	_, err := c.cs.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or changed: the next pass sees it
	}
	return err
}

// tell records an Event for each problem an Ingress did not have at the
// last pass.
func (c *Controller) tell(recorder record.EventRecorder, ours []*networkingv1.Ingress, problems []Problem) {
	now := map[string]map[string]bool{}
	byKey := map[string]*networkingv1.Ingress{}
	for _, ing := range ours {
		byKey[Key(ing)] = ing
	}
	for _, p := range problems {
		ing := byKey[p.Ingress]
		if ing == nil {
			continue
		}
		if now[p.Ingress] == nil {
			now[p.Ingress] = map[string]bool{}
		}
		msg := p.Reason + ": " + p.Message
		now[p.Ingress][msg] = true
		if !c.told[p.Ingress][msg] {
			recorder.Event(ing, corev1.EventTypeWarning, p.Reason, p.Message)
		}
	}
	c.told = now
}

// writeCertificates makes the copy hold data.
func (c *Controller) writeCertificates(ctx context.Context, data map[string][]byte) error {
	if c.written != nil && SameData(c.written, data) {
		return nil
	}
	if err := PutCertificates(ctx, c.cs, CertificatesSecret, data); err != nil {
		return err
	}
	c.written = data
	return nil
}

// SameData reports whether two Secrets' data are the same.
func SameData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

// PutCertificates makes the certificates' copy name in kube-system hold
// data.
func PutCertificates(ctx context.Context, cs kubernetes.Interface, name string, data map[string][]byte) error {
	secrets := cs.CoreV1().Secrets(metav1.NamespaceSystem)
	have, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem, Labels: map[string]string{"app.kubernetes.io/managed-by": "edgeos"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if SameData(have.Data, data) {
		return nil
	}
	have.Data = data
	_, err = secrets.Update(ctx, have, metav1.UpdateOptions{})
	return err
}
