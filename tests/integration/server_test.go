package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// object names one API object whose UID must survive a restart.
type object struct {
	gvr             schema.GroupVersionResource
	namespace, name string
}

func (o object) String() string { return fmt.Sprintf("%s %s/%s", o.gvr.Resource, o.namespace, o.name) }

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	replicasets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// appliedKinds are the objects of tests/testdata/kinds.yaml.
var appliedKinds = []object{
	{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "kinds"},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "kinds", "settings"},
	{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "kinds", "credentials"},
	{deployments, "kinds", "web"},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "kinds", "web"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "kinds", "once"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "kinds", "nightly"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "kinds", "db"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "kinds", "agent"},
	{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, "kinds", "web"},
	{schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, "", "gadgets.edgeos.test"},
	{schema.GroupVersionResource{Group: "edgeos.test", Version: "v1", Resource: "gadgets"}, "kinds", "first"},
}

func uids(t *testing.T, dyn dynamic.Interface, objs []object) map[string]types.UID {
	t.Helper()
	out := map[string]types.UID{}
	for _, o := range objs {
		u, err := dyn.Resource(o.gvr).Namespace(o.namespace).Get(context.Background(), o.name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		out[o.String()] = u.GetUID()
	}
	return out
}

func TestServerLifecycle(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("server")

	// Settings arrive through all three sources: config file, environment, flags.
	cfgFile := filepath.Join(n.Dir, "config.yaml")
	// an unquoted 0640 is the mode 0640 (YAML alone would read 416)
	cfg := "service-cidr: 10.45.0.0/16\ncluster-dns: 10.45.0.10\ntls-san: [lifecycle.example, 198.18.255.77]\nwrite-kubeconfig-mode: 0640\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDGEOS_TOKEN", "lifecycle-secret")
	args := append([]string{"server", "--config", cfgFile, "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)

	n.Start(args...)
	cs := n.WaitReady()
	if !strings.Contains(n.Log(), "edgeos server is ready") {
		t.Error("no 'edgeos server is ready' line in the log")
	}
	if r := n.Run("kubectl", "get", "--raw", "/readyz"); r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Fatalf("edgeos kubectl get --raw /readyz: %+v", r)
	}
	checkDataDirPrivate(t, n.DataDir)
	if st, err := os.Stat(n.Kubeconfig); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o640 {
		t.Errorf("admin kubeconfig mode %v, want 0640 from the config file", st.Mode().Perm())
	}
	nodeRegisters(t, cs, n.Name, n.IP)
	// One server on SQLite: the controller-manager and scheduler run without leader election.
	for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
		if _, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), lease, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("lease %s: %v, want NotFound: leader election should be off on embedded SQLite", lease, err)
		}
	}

	dyn, err := dynamic.NewForConfig(n.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs := append(createDeployment(t, cs), appliedKinds...)

	r := n.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/kinds.yaml"))
	if r.ExitCode != 0 {
		t.Fatalf("kubectl apply of kinds.yaml failed:\n%s\n%s", r.Stdout, r.Stderr)
	}
	svc, err := cs.CoreV1().Services("kinds").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, svcNet, _ := net.ParseCIDR("10.45.0.0/16"); !svcNet.Contains(net.ParseIP(svc.Spec.ClusterIP)) {
		t.Errorf("Service ClusterIP %s is outside --service-cidr 10.45.0.0/16", svc.Spec.ClusterIP)
	}
	before := uids(t, dyn, objs)

	checkBootstrapAPI(t, n)
	checkOpenAPI(t, n)

	// Starting a second server on the same port fails clearly and leaves the first one serving.
	expectRefusal(t, "second server on the same port", n.Run(args...), "already in use")
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background()); err != nil {
		t.Fatalf("first server stopped answering after the refused second start: %v", err)
	}

	if code := n.Stop(); code != 0 {
		t.Errorf("server exit code after SIGTERM: %d, want 0", code)
	}
	checkStopped(t, n.Log())

	checkBadInput(t, n, args)

	n.Start(args...)
	n.WaitReady()
	after := uids(t, dyn, objs)
	for k, uid := range before {
		if after[k] != uid {
			t.Errorf("%s: UID %s before restart, %s after", k, uid, after[k])
		}
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("server exit code after SIGTERM: %d, want 0", code)
	}
}

// checkStopped reads the log of a server or agent stopped by SIGTERM: every
// component of edgeos's own ended every goroutine it started (else the
// component manager warns, pkg/component), and the report of what upstream
// loops outlive their stop names the kubelet's and kube-proxy's, which run
// on wait.NeverStop: the count sees the goroutines of the real binary.
// edgeos's components of a server: the datastore, cluster-dns,
// local-storage, local-path, servicelb, the overlay, containerd, the image
// loader, the page-out and the one-off API setups; an agent has the node's.
func checkStopped(t *testing.T, log string) {
	t.Helper()
	var report string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "goroutines running after its stop") {
			t.Errorf("a component left goroutines behind: %s", line)
		}
		if strings.Contains(line, "goroutines of upstream loops that run until the process ends") {
			report = line
		}
	}
	t.Log(report)
	if !strings.Contains(report, "kubelet (") || !strings.Contains(report, "kube-proxy (") {
		t.Errorf("the stop reported %q, want the kubelet's and kube-proxy's goroutines counted", report)
	}
}

// checkOpenAPI reads both OpenAPI documents through the aggregator, as
// clients do: v3 (kubectl explain, apply's validation) and v2, each of which
// edgeos builds only on its first request (pkg/openapiv3,
// pkg/controlplane/openapi.go).
func checkOpenAPI(t *testing.T, n *harness.Node) {
	t.Helper()
	var v3 struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	r := n.Run("kubectl", "get", "--raw", "/openapi/v3")
	if err := json.Unmarshal([]byte(r.Stdout), &v3); r.ExitCode != 0 || err != nil || v3.Paths["apis/apps/v1"].URL == "" || v3.Paths["api/v1"].URL == "" {
		t.Errorf("/openapi/v3: %v %q, groups %d", err, r.Stderr, len(v3.Paths))
	}
	// a group version's document (built on this first request) under the
	// name the discovery document gives, and under a stale name (redirected)
	for _, u := range []string{v3.Paths["apis/apps/v1"].URL, "/openapi/v3/apis/apps/v1?hash=STALE"} {
		r := n.Run("kubectl", "get", "--raw", u)
		if r.ExitCode != 0 || !strings.Contains(r.Stdout, "io.k8s.api.apps.v1.Deployment") || !strings.Contains(r.Stdout, `"listAppsV1NamespacedDeployment"`) {
			t.Errorf("%s: %q, %d bytes", u, r.Stderr, len(r.Stdout))
		}
	}
	if r := n.Run("kubectl", "explain", "deployment.spec.replicas"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "integer") {
		t.Errorf("kubectl explain: %q %q", r.Stdout, r.Stderr)
	}
	for range 2 { // built on the first request, kept for the second
		var v2 struct {
			Definitions map[string]any `json:"definitions"`
			Paths       map[string]struct {
				Get struct {
					OperationID string `json:"operationId"`
				} `json:"get"`
			} `json:"paths"`
		}
		r := n.Run("kubectl", "get", "--raw", "/openapi/v2")
		if err := json.Unmarshal([]byte(r.Stdout), &v2); r.ExitCode != 0 || err != nil {
			t.Fatalf("/openapi/v2: %v %q", err, r.Stderr)
		}
		for _, want := range []string{"io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.Pod", "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
			"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"} {
			if v2.Definitions[want] == nil {
				t.Errorf("/openapi/v2 has no definition %s (%d definitions)", want, len(v2.Definitions))
			}
		}
		// upstream's operation names (the config's GetOperationIDAndTags,
		// which edgeos hands the builders itself)
		if op := v2.Paths["/apis/apps/v1/namespaces/{namespace}/deployments"].Get.OperationID; op != "listAppsV1NamespacedDeployment" {
			t.Errorf("/openapi/v2 Deployment path: operation %q, want listAppsV1NamespacedDeployment (%d paths)", op, len(v2.Paths))
		}
	}
}

// createDeployment creates a Deployment and waits for the ReplicaSet and
// Pods the controllers make for it; it returns all of them.
func createDeployment(t *testing.T, cs kubernetes.Interface) []object {
	t.Helper()
	ctx := context.Background()
	replicas := int32(2)
	labels := map[string]string{"app": "lifecycle"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "lifecycle", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "edgeos.test/echo:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := []object{{deployments, "default", "lifecycle"}}
	var rsName string
	eventually(t, "the controller-manager creates a ReplicaSet", func(ctx context.Context) (bool, error) {
		l, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=lifecycle"})
		if err != nil || len(l.Items) != 1 {
			return false, err
		}
		rsName = l.Items[0].Name
		return true, nil
	})
	objs = append(objs, object{replicasets, "default", rsName})
	eventually(t, "the ReplicaSet creates 2 Pods", func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=lifecycle"})
		if err != nil || len(l.Items) != 2 {
			return false, err
		}
		for _, p := range l.Items {
			if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Name != rsName {
				return false, fmt.Errorf("pod %s not owned by %s", p.Name, rsName)
			}
		}
		objs = append(objs, object{pods, "default", l.Items[0].Name}, object{pods, "default", l.Items[1].Name})
		return true, nil
	})
	return objs
}

func checkDataDirPrivate(t *testing.T, dataDir string) {
	t.Helper()
	st, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", st.Mode().Perm())
	}
	keys, _ := filepath.Glob(filepath.Join(dataDir, "server/tls/*.key"))
	for _, k := range append(keys, filepath.Join(dataDir, "server/token")) {
		st, err := os.Stat(k)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", k, st.Mode().Perm())
		}
	}
	if len(keys) < 5 {
		t.Errorf("only %d keys under server/tls", len(keys))
	}
}

// checkBootstrapAPI joins the way a node will: fetch the CA without trust,
// check it against the token's hash, then ask for a certificate.
func checkBootstrapAPI(t *testing.T, n *harness.Node) {
	t.Helper()
	_, hash, cred := storedToken(t, n)
	if cred != "server:lifecycle-secret" {
		t.Fatalf("stored token credential %q is not server:<the given secret>", cred)
	}
	base := "https://" + n.IP + ":6443/edgeos/v1"

	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Get(base + "/cacerts")
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	served := resp.TLS.PeerCertificates[0]
	if !slices.Contains(served.DNSNames, "lifecycle.example") || !slices.ContainsFunc(served.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("198.18.255.77")) }) {
		t.Errorf("API certificate SANs %v %v lack the tls-san list from the config file", served.DNSNames, served.IPAddresses)
	}
	sum := sha256.Sum256(ca)
	if hex.EncodeToString(sum[:]) != hash {
		t.Fatalf("the token's CA hash does not match the served CA bundle")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("cacerts is not PEM")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	sign := func(cred string) (int, []byte) {
		key, _ := pki.NewKey()
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		req, _ := http.NewRequest(http.MethodPost, base+"/certs/kubelet-client",
			bytes.NewReader(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
		req.Header.Set("Authorization", "Bearer "+cred)
		req.Header.Set("Edgeos-Node-Name", "joiner")
		req.Header.Set("Edgeos-Node-Password", strings.Repeat("p", 64))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := sign("server:wrong-secret"); code != http.StatusUnauthorized || bytes.Contains(body, []byte("CERTIFICATE")) {
		t.Errorf("wrong token: status %d, body %q; want 401 and nothing signed", code, body)
	}
	code, body := sign(cred)
	if code != http.StatusOK {
		t.Fatalf("server token: status %d: %s", code, body)
	}
	if cert, err := pki.ParseCert(body); err != nil || cert.Subject.CommonName != "system:node:joiner" {
		t.Fatalf("signed certificate: %v %v", cert, err)
	}

	// A token from `edgeos token create` works too, and is listed.
	r := n.Run("token", "create", "--data-dir", n.DataDir, "--description", "lifecycle test")
	if r.ExitCode != 0 {
		t.Fatalf("token create: %s", r.Stderr)
	}
	created := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(created, "K10"+hash+"::") {
		t.Fatalf("created token %q does not carry the CA hash", created)
	}
	_, joinCred, _ := strings.Cut(created, "::")
	if code, body := sign(joinCred); code != http.StatusOK {
		t.Errorf("created token refused: %d %s", code, body)
	}
	id, _, _ := strings.Cut(joinCred, ".")
	if r := n.Run("token", "list", "--data-dir", n.DataDir); !strings.Contains(r.Stdout, id) || !strings.Contains(r.Stdout, "lifecycle test") {
		t.Errorf("token list does not show %s: %s %s", id, r.Stdout, r.Stderr)
	}
}

// checkBadInput runs the stopped server's data dir through bad starts; each
// must fail with one clear line and change nothing.
func checkBadInput(t *testing.T, n *harness.Node, args []string) {
	t.Helper()
	before := snapshot(t, n.DataDir)

	badYAML := filepath.Join(n.Dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("service-cidr: [unclosed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expectRefusal(t, "malformed config file", n.Run("server", "--config", badYAML, "--data-dir", n.DataDir), "not valid YAML")
	expectRefusal(t, "unknown flag", n.Run(append(args, "--no-such-flag")...), "flag provided but not defined: -no-such-flag")
	expectRefusal(t, "bad CIDR", n.Run(append(args, "--cluster-cidr", "10.42.0.0/99")...), "--cluster-cidr")
	expectRefusal(t, "unknown pod network", n.Run(append(args, "--cni", "flannel")...), `--cni "flannel"`)
	expectRefusal(t, "kube-proxy flag without a value", n.Run(append(args, "--kube-proxy-arg", "proxy-mode")...), "--kube-proxy-arg")
	expectRefusal(t, "relative storage path", n.Run(append(args, "--local-storage-path", "storage")...), "--local-storage-path")
	expectRefusal(t, "unknown part to disable", n.Run(append(args, "--disable", "coredns")...), `--disable "coredns"`)
	expectRefusal(t, "unreachable datastore",
		n.Run(append(args, "--datastore-endpoint", "postgres://edgeos:pw@127.0.0.1:1/edgeos", "--datastore-connect-timeout", "3s")...),
		"unreachable")
	t.Setenv("EDGEOS_TOKEN", "another-secret")
	expectRefusal(t, "token that contradicts the stored one", n.Run(args...), "differs from the token")
	t.Setenv("EDGEOS_TOKEN", "lifecycle-secret")
	ro := fmt.Sprintf(`mount -o bind,ro %[1]s %[1]s && exec "$EDGEOS" server --data-dir %[1]s --write-kubeconfig %[2]s`, n.DataDir, n.Kubeconfig)
	expectRefusal(t, "read-only data dir", n.Shell(ro), "not writable")

	sameSnapshot(t, "a refused start", before, snapshot(t, n.DataDir))
}

// repoRoot is the checkout the tests run from: go test runs them in their
// package's directory, tests/integration (EDGEOS_BIN may be anywhere).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}
