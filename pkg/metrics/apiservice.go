package metrics

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// APIServiceName is the APIService through which the aggregator routes
// metrics.k8s.io/v1beta1 to the apiserver's own handler.
const APIServiceName = "v1beta1.metrics.k8s.io"

// ReaderRole lets whoever has view, edit or admin read resource metrics,
// the role metrics-server installs under the same name.
const ReaderRole = "system:aggregated-metrics-reader"

var managed = map[string]string{"app.kubernetes.io/managed-by": "edgeos"}

func apiService() *apiregv1.APIService {
	return &apiregv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: APIServiceName, Labels: managed},
		// no service: served locally, by the apiserver the request reached
		Spec: apiregv1.APIServiceSpec{
			Group:                v1beta1.SchemeGroupVersion.Group,
			Version:              v1beta1.SchemeGroupVersion.Version,
			GroupPriorityMinimum: 100,
			VersionPriority:      100,
		},
	}
}

func ours(o metav1.Object) bool { return o.GetLabels()["app.kubernetes.io/managed-by"] == "edgeos" }

// EnsureAPIService registers metrics.k8s.io with the aggregator and the
// role to read it. An APIService someone else made (a metrics-server of
// their own) is left in place.
func EnsureAPIService(ctx context.Context, ac aggregator.Interface, cs kubernetes.Interface) error {
	want := apiService()
	services := ac.ApiregistrationV1().APIServices()
	have, err := services.Get(ctx, APIServiceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := services.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("APIService %s: %w", APIServiceName, err)
		}
	case err != nil:
		return fmt.Errorf("APIService %s: %w", APIServiceName, err)
	case !ours(have):
		logrus.Warnf("Resource metrics: APIService %s is not edgeos's (another metrics server?); it is left as it is, and edgeos's metrics are not reachable through it (--disable metrics turns them off)", APIServiceName)
	case !equality.Semantic.DeepEqual(have.Spec, want.Spec):
		have.Spec = want.Spec
		if _, err := services.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("APIService %s: %w", APIServiceName, err)
		}
	}
	return ensureReaderRole(ctx, cs)
}

// RemoveAPIService takes edgeos's metrics.k8s.io registration away: with
// metrics off, an APIService served by nobody would fail discovery.
func RemoveAPIService(ctx context.Context, ac aggregator.Interface) error {
	services := ac.ApiregistrationV1().APIServices()
	have, err := services.Get(ctx, APIServiceName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && !ours(have)) {
		return nil
	}
	if err != nil {
		return err
	}
	err = services.Delete(ctx, APIServiceName, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &have.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func ensureReaderRole(ctx context.Context, cs kubernetes.Interface) error {
	labels := map[string]string{
		"app.kubernetes.io/managed-by":                 "edgeos",
		"rbac.authorization.k8s.io/aggregate-to-view":  "true",
		"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
		"rbac.authorization.k8s.io/aggregate-to-admin": "true",
	}
	rules := []rbacv1.PolicyRule{{APIGroups: []string{v1beta1.SchemeGroupVersion.Group}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}}}
	roles := cs.RbacV1().ClusterRoles()
	have, err := roles.Get(ctx, ReaderRole, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ReaderRole, Labels: labels}, Rules: rules}
		if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("ClusterRole %s: %w", ReaderRole, err)
		}
	case err != nil:
		return fmt.Errorf("ClusterRole %s: %w", ReaderRole, err)
	case ours(have) && !(equality.Semantic.DeepEqual(have.Labels, labels) && equality.Semantic.DeepEqual(have.Rules, rules)):
		have.Labels, have.Rules = labels, rules
		if _, err := roles.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("ClusterRole %s: %w", ReaderRole, err)
		}
	}
	return nil
}
