package dns

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// ServiceName is the Service that names the cluster DNS address, for
// clients that look for kube-dns in kube-system. It has no selector and no
// endpoints: every node answers on the address itself.
const ServiceName = "kube-dns"

// EnsureService creates the kube-dns Service with the cluster DNS address,
// or checks the one that exists holds it.
func EnsureService(ctx context.Context, cs kubernetes.Interface, clusterIP string) error {
	svcs := cs.CoreV1().Services(metav1.NamespaceSystem)
	have, err := svcs.Get(ctx, ServiceName, metav1.GetOptions{})
	if err == nil {
		if have.Spec.ClusterIP != clusterIP {
			return fmt.Errorf("kube-system/%s has ClusterIP %s, not --cluster-dns %s: delete it, or start with that --cluster-dns", ServiceName, have.Spec.ClusterIP, clusterIP)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServiceName,
			Namespace: metav1.NamespaceSystem,
			Labels:    map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "edgeos-dns", "app.kubernetes.io/managed-by": "edgeos"},
		},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	_, err = svcs.Create(ctx, svc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
