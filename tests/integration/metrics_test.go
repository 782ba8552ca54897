package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestResourceMetrics runs kubectl top and an autoscaler on a two-node
// cluster: both nodes and pods on both are listed with their usage; the
// API refuses a client without credentials; an HPA scales a burning
// Deployment up to its maximum and back to one when the burning stops; a
// node whose kubelet is gone drops out while the other is still listed;
// and --disable metrics takes the API away.
func TestResourceMetrics(t *testing.T) {
	c := harness.New(t)
	srv, ag := c.AddNode("server"), c.AddNode("agent1")
	for _, n := range []*harness.Node{srv, ag} {
		n.AddImage("echo.tar", images.Build(t, "echo"))
		n.AddImage("burn.tar", images.Build(t, "burn"))
	}
	// faster than the default 15 s, so that the test waits less
	srv.Start(srv.ServerArgs("--metrics-resolution", "5s")...)
	cs := srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	srv.WaitNodeReady(cs)
	ag.WaitNodeReady(cs)

	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/autoscale.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	for _, n := range []*harness.Node{srv, ag} {
		runPodOn(t, cs, "top", "echo-"+n.Name, n.Name)
	}

	eventually(t, "kubectl top nodes lists both nodes with CPU and memory in use", func(context.Context) (bool, error) {
		rows, err := topRows(srv, "nodes")
		if err != nil {
			return false, err
		}
		for _, n := range []string{srv.Name, ag.Name} {
			row, ok := rows[n]
			if !ok || len(row) < 4 || !positive(row[1]) || !positive(row[3]) {
				return false, fmt.Errorf("rows %v", rows)
			}
		}
		return true, nil
	})
	eventually(t, "kubectl top pods lists the pods of both nodes, by container", func(context.Context) (bool, error) {
		rows, err := topRows(srv, "pods", "-A", "--containers")
		if err != nil {
			return false, err
		}
		// NAMESPACE POD NAME CPU MEMORY, keyed by namespace
		for _, n := range []string{srv.Name, ag.Name} {
			found := false
			for _, row := range rows["top"+"/"+"echo-"+n] {
				found = found || row == "echo"
			}
			if !found {
				return false, fmt.Errorf("rows %v", rows)
			}
		}
		return true, nil
	})

	// no credentials, no metrics
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Get("https://" + srv.IP + ":6443/apis/metrics.k8s.io/v1beta1/nodes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("metrics without credentials: %s, want 401", resp.Status)
	}

	checkAutoscaling(t, cs, srv)
	checkPrometheusEndpoints(t, cs, srv, ag)

	// the agent's kubelet goes away: the server's node is still listed
	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	eventually(t, "kubectl top nodes answers for the server's node, the agent's without figures", func(context.Context) (bool, error) {
		rows, err := topRows(srv, "nodes")
		if err != nil {
			return false, err
		}
		// kubectl lists every Node, with <unknown> where it got no metrics
		server, agent := rows[srv.Name], rows[ag.Name]
		ok := len(server) >= 4 && positive(server[1]) && (agent == nil || agent[1] == "<unknown>")
		return ok, fmt.Errorf("rows %v", rows)
	})
	eventually(t, "a log line for the node that dropped out", func(context.Context) (bool, error) {
		return strings.Contains(srv.Log(), "node "+ag.Name+" left out until its kubelet answers"), nil
	})

	// metrics off: the API is gone, and kubectl says so
	if code := srv.Stop(); code != 0 {
		t.Fatalf("server exit code %d", code)
	}
	checkStopped(t, srv.Log())
	srv.Start(srv.ServerArgs("--disable", "metrics")...)
	cs = srv.WaitReady()
	srv.WaitLog("edgeos server is ready")
	eventually(t, "with --disable metrics, metrics.k8s.io is gone", func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1")
		return err != nil, nil
	})
	if r := srv.Run("kubectl", "top", "nodes"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Metrics API not available") {
		t.Errorf("kubectl top nodes with metrics off: %d %q %q", r.ExitCode, r.Stdout, r.Stderr)
	}
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code %d", code)
	}
	checkStopped(t, srv.Log())
}

// checkAutoscaling waits for the HPA of autoscale.yaml to scale its
// burning Deployment to the maximum, stops the burning and waits for one
// replica again.
func checkAutoscaling(t *testing.T, cs kubernetes.Interface, srv *harness.Node) {
	t.Helper()
	replicas := func(ctx context.Context) (int32, error) {
		d, err := cs.AppsV1().Deployments("top").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		return *d.Spec.Replicas, nil
	}
	eventually(t, "the autoscaler scales the burning Deployment to 3", func(ctx context.Context) (bool, error) {
		n, err := replicas(ctx)
		return n == 3, fmt.Errorf("%d replicas, %v; %s", n, err, hpaState(ctx, cs))
	})
	if r := srv.Run("kubectl", "-n", "top", "set", "env", "deployment/burn", "MILLICORES=0"); r.ExitCode != 0 {
		t.Fatalf("set env: %s %s", r.Stdout, r.Stderr)
	}
	eventually(t, "the autoscaler scales the idle Deployment back to 1", func(ctx context.Context) (bool, error) {
		n, err := replicas(ctx)
		return n == 1, fmt.Errorf("%d replicas, %v; %s", n, err, hpaState(ctx, cs))
	})
}

func hpaState(ctx context.Context, cs kubernetes.Interface) string {
	h, err := cs.AutoscalingV2().HorizontalPodAutoscalers("top").Get(ctx, "burn", metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			fmt.Fprintf(&b, "cpu %d%% ", *m.Resource.Current.AverageUtilization)
		}
	}
	for _, c := range h.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s (%s: %s) ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// topRows runs kubectl top and returns its rows by their first column,
// or by namespace/pod with -A.
func topRows(n *harness.Node, args ...string) (map[string][]string, error) {
	r := n.Run(append([]string{"kubectl", "top"}, append(args, "--no-headers")...)...)
	if r.ExitCode != 0 {
		return nil, fmt.Errorf("kubectl top %v: %s", args, r.Stderr)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(args) > 0 && args[0] == "pods" && len(f) >= 3:
			// NAMESPACE POD CONTAINER CPU MEMORY: the containers, by pod
			key := f[0] + "/" + f[1]
			rows[key] = append(rows[key], f[2])
		default:
			rows[f[0]] = f
		}
	}
	return rows, nil
}

// positive reads a quantity kubectl top printed.
func positive(s string) bool {
	q, err := resource.ParseQuantity(s)
	return err == nil && q.Sign() > 0
}

// runPodOn starts an echo pod on the named node.
func runPodOn(t *testing.T, cs kubernetes.Interface, namespace, name, node string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "echo", Image: images.Name("echo"), ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := cs.CoreV1().Pods(namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// checkPrometheusEndpoints reads the server's /metrics on the API port
// (admin; a ServiceAccount granted system:monitoring; refused without
// credentials or the grant) and the agent's node-local endpoint, each
// parsed by Prometheus's own text parser, and looks for edgeos's series
// and the upstream components'.
func checkPrometheusEndpoints(t *testing.T, cs kubernetes.Interface, srv, ag *harness.Node) {
	t.Helper()
	ctx := context.Background()
	// a DNS answer of each node, counted (asked until answered: what is
	// checked here is the count, not the DNS)
	for _, n := range []*harness.Node{srv, ag} {
		eventually(t, "a DNS answer in echo-"+n.Name, func(context.Context) (bool, error) {
			r := srv.Run("kubectl", "-n", "top", "exec", "echo-"+n.Name, "--", "/echo", "dns", "A", "kubernetes.default.svc.cluster.local")
			return r.ExitCode == 0, fmt.Errorf("%s %s", r.Stdout, r.Stderr)
		})
	}
	r := srv.Run("kubectl", "get", "--raw", "/metrics")
	if r.ExitCode != 0 {
		t.Fatalf("/metrics: %s", r.Stderr)
	}
	server := parseMetrics(t, "the server's /metrics", r.Stdout)
	for _, name := range []string{
		"edgeos_datastore_db_size_bytes", "edgeos_datastore_wal_size_bytes", "kine_sql_total",
		"edgeos_dns_answers_total", "edgeos_overlay_peers", "edgeos_containerd_restarts_total",
		"edgeos_servicelb_services", "edgeos_ingress_requests_total",
		"apiserver_request_total", "kubelet_running_pods", "scheduler_schedule_attempts_total", "workqueue_adds_total", "kubeproxy_sync_proxy_rules_duration_seconds",
	} {
		if server[name] == nil {
			t.Errorf("the server's /metrics lacks %s", name)
		}
	}
	// every series the alert rules of docs/alerts.yaml read (tests/alerts)
	alertSeries, err := os.ReadFile(filepath.Join(repoRoot(t), "tests/alerts/series.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(string(alertSeries)) {
		if server[name] == nil {
			t.Errorf("the server's /metrics lacks %s, which docs/alerts.yaml reads", name)
		}
	}
	if v := gaugeValue(server["edgeos_datastore_db_size_bytes"]); v <= 0 {
		t.Errorf("edgeos_datastore_db_size_bytes %v", v)
	}
	if v := gaugeValue(server["edgeos_overlay_peers"]); v != 1 {
		t.Errorf("edgeos_overlay_peers %v, want 1 (the agent)", v)
	}
	if counterWith(server["edgeos_dns_answers_total"], "rcode", "NOERROR") < 1 {
		t.Errorf("no NOERROR answer counted: %v", server["edgeos_dns_answers_total"])
	}

	// without credentials, and with credentials but without the grant
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, "https://"+srv.IP+":6443/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := insecure.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	for _, sa := range []string{"scraper", "nobody"} {
		if _, err := cs.CoreV1().ServiceAccounts("top").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if r := srv.Run("kubectl", "create", "clusterrolebinding", "scraper", "--clusterrole", "system:monitoring", "--serviceaccount", "top:scraper"); r.ExitCode != 0 {
		t.Fatalf("binding: %s", r.Stderr)
	}
	token := func(sa string) string {
		r := srv.Run("kubectl", "-n", "top", "create", "token", sa)
		if r.ExitCode != 0 {
			t.Fatalf("token: %s", r.Stderr)
		}
		return strings.TrimSpace(r.Stdout)
	}
	if code := get(token("nobody")); code != http.StatusForbidden {
		t.Errorf("/metrics for a ServiceAccount without the grant: %d, want 403", code)
	}
	eventually(t, "a ServiceAccount bound to system:monitoring reads /metrics", func(context.Context) (bool, error) {
		code := get(token("scraper"))
		return code == http.StatusOK, fmt.Errorf("status %d", code)
	})

	// the agent's node-local endpoint: its node's series, once each
	r = ag.Shell("curl -sf --max-time 10 http://127.0.0.1:10249/metrics")
	if r.ExitCode != 0 {
		t.Fatalf("the agent's metrics endpoint: %d %s", r.ExitCode, r.Stderr)
	}
	agent := parseMetrics(t, "the agent's endpoint", r.Stdout)
	for _, name := range []string{"edgeos_dns_answers_total", "edgeos_overlay_peers", "edgeos_containerd_restarts_total", "edgeos_ingress_requests_total",
		"edgeos_certificate_expiry_timestamp_seconds", "edgeos_data_dir_free_bytes", "edgeos_storage_written_bytes_total",
		"kubelet_running_pods", "kubeproxy_sync_proxy_rules_duration_seconds"} {
		if agent[name] == nil {
			t.Errorf("the agent's endpoint lacks %s", name)
		}
	}
	for _, name := range []string{"apiserver_request_total", "edgeos_datastore_db_size_bytes", "edgeos_servicelb_services"} {
		if agent[name] != nil {
			t.Errorf("the agent's endpoint has the server's %s", name)
		}
	}
}

// parseMetrics parses the Prometheus text format with Prometheus's own
// parser, and checks that no series is there twice.
func parseMetrics(t *testing.T, what, text string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%s does not parse: %v", what, err)
	}
	for name, f := range families {
		seen := map[string]bool{}
		for _, m := range f.GetMetric() {
			var key strings.Builder
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&key, "%s=%q,", l.GetName(), l.GetValue())
			}
			if seen[key.String()] {
				t.Errorf("%s: %s{%s} twice", what, name, key.String())
			}
			seen[key.String()] = true
		}
	}
	return families
}

func gaugeValue(f *dto.MetricFamily) float64 {
	if f == nil || len(f.GetMetric()) == 0 {
		return -1
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

func counterWith(f *dto.MetricFamily, label, value string) float64 {
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
