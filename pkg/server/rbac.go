package server

import (
	"context"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/gateway"
	"github.com/edgeos/edgeos/pkg/ingress"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// agentRole is what edgeos's node-side workers may do: the overlay watches
// Nodes, the cluster DNS watches Services and EndpointSlices, local storage
// manages the PersistentVolumes it provisions and publishes its node's
// free space, the ingress proxy watches Ingresses and their class, the
// NetworkPolicy enforcement watches policies, pods and namespaces, and
// the proxies the Gateway API's objects. A node's own kubelet identity
// may read no Node but its own, hence a role of edgeos's.
const agentRole = "edgeos:agent"

var agentRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"persistentvolumes"}, Verbs: []string{"get", "list", "watch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingressclasses", "networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: gateway.Resources, Verbs: []string{"get", "list", "watch"}},
}

// agentSecretRules let the ingress proxies read the Secrets that hold the
// certificates they serve (the Ingresses' and the Gateways'), and no
// other.
var agentSecretRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{ingress.CertificatesSecret, gateway.CertificatesSecret}, Verbs: []string{"get", "list", "watch"}},
}

// ensureAgentRBAC creates or updates the role and binds it to every node's
// edgeos-agent identity.
func ensureAgentRBAC(ctx context.Context, cs kubernetes.Interface) error {
	roles := cs.RbacV1().ClusterRoles()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: agentRole, Labels: managedLabels}, Rules: agentRules}
	if have, err := roles.Get(ctx, agentRole, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	} else if err != nil {
		return err
	} else {
		have.Rules = agentRules
		if _, err := roles.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: agentRole, Labels: managedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: agentRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: bootstrap.AgentGroup}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return ensureAgentSecretRole(ctx, cs)
}

// ensureAgentSecretRole creates or updates the kube-system Role of
// agentSecretRules and binds it to every node's edgeos-agent identity.
func ensureAgentSecretRole(ctx context.Context, cs kubernetes.Interface) error {
	roles := cs.RbacV1().Roles(metav1.NamespaceSystem)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: agentRole, Namespace: metav1.NamespaceSystem, Labels: managedLabels}, Rules: agentSecretRules}
	if have, err := roles.Get(ctx, agentRole, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	} else if err != nil {
		return err
	} else {
		have.Rules = agentSecretRules
		if _, err := roles.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: agentRole, Namespace: metav1.NamespaceSystem, Labels: managedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: agentRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: bootstrap.AgentGroup}},
	}
	if _, err := cs.RbacV1().RoleBindings(metav1.NamespaceSystem).Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

var managedLabels = map[string]string{"app.kubernetes.io/managed-by": "edgeos"}
