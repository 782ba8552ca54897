package netpol

import (
	"context"
	"os"
	"sort"
	"strings"

	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Config places a node's enforcement.
type Config struct {
	NodeName string
	// Kubeconfig watches Pods, Namespaces and NetworkPolicies (the
	// edgeos-agent identity, which may).
	Kubeconfig string
	// Off: the server runs with --disable network-policy; the node removes
	// its table and enforces nothing.
	Off bool
}

// Node is a node's NetworkPolicy enforcement component.
type Node struct{ cfg Config }

// New prepares a node's enforcement.
func New(cfg Config) *Node { return &Node{cfg: cfg} }

func (n *Node) Name() string { return "network-policy" }

// Run is ready at once: a node that starts while the API is unreachable
// keeps the table its last run wrote. Once its watches have synced it
// writes the table after every change of a pod, namespace or policy. It
// leaves the table in place when it stops, so the kernel goes on
// enforcing the last rules while edgeos restarts; the next start replaces
// them in one transaction.
func (n *Node) Run(ctx context.Context, ready func()) error {
	if n.cfg.Off {
		if err := Remove(); err != nil {
			return err
		}
		logrus.Infof("NetworkPolicy enforcement off (--disable network-policy): table inet %s removed", TableName)
		ready()
		<-ctx.Done()
		return nil
	}
	ready()
	if err := probe(); err != nil {
		// told once: a pass retried every few seconds would say it forever
		logrus.Warnf("NetworkPolicy: not enforced on this node: %v", err)
		<-ctx.Done()
		return nil
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		logrus.Warnf("NetworkPolicy: br_netfilter is not loaded, so traffic between two pods of this node passes unfiltered (modprobe br_netfilter)")
	}
	cs, err := kubeconfig.Client(n.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	pods := factory.Core().V1().Pods()
	namespaces := factory.Core().V1().Namespaces()
	policies := factory.Networking().V1().NetworkPolicies()
	// every node holds every pod a selector may pick: only what a rule
	// reads is kept
	if err := pods.Informer().SetTransform(slimPod); err != nil {
		return err
	}
	if err := namespaces.Informer().SetTransform(slimNamespace); err != nil {
		return err
	}
	k := &kernel{}
	var told string
	return watch.Loop(ctx, "NetworkPolicy", factory,
		[]cache.SharedIndexInformer{pods.Informer(), namespaces.Informer(), policies.Informer()},
		watch.DefaultPause, nil, func(ctx context.Context) error {
			v := View{Node: n.cfg.NodeName}
			var err error
			if v.Pods, err = pods.Lister().List(labels.Everything()); err != nil {
				return err
			}
			if v.Namespaces, err = namespaces.Lister().List(labels.Everything()); err != nil {
				return err
			}
			if v.Policies, err = policies.Lister().List(labels.Everything()); err != nil {
				return err
			}
			rs, problems := Plan(v)
			// a policy it cannot read is told once, not every pass
			if s := joinErrors(problems); s != told {
				told = s
				if s != "" {
					logrus.Warnf("NetworkPolicy: allowing nothing by policies it cannot read: %s", s)
				}
			}
			return k.apply(rs)
		})
}

func joinErrors(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	sort.Strings(s)
	return strings.Join(s, "; ")
}

// slimPod keeps what Plan reads of a pod: its name, labels, node, host
// networking, named ports, phase and addresses.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, Labels: p.Labels, ResourceVersion: p.ResourceVersion},
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork},
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}
	for _, c := range p.Spec.Containers {
		if len(c.Ports) > 0 {
			out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
	}
	return out, nil
}

func slimNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, UID: ns.UID, Labels: ns.Labels, ResourceVersion: ns.ResourceVersion}}, nil
}
