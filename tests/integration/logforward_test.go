package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestLogForward ships logs to an OTLP/HTTP receiver in the harness
// (decoding with OpenTelemetry's own types): every line of a pod arrives
// with its namespace, pod, container and node, and edgeos's own lines
// from both nodes; with the receiver down for a minute and the agent
// restarted meanwhile, every line of the pods that wrote in that minute
// arrives, in order; with a tiny buffer, the oldest lines are dropped and
// counted, and the newest arrive.
func TestLogForward(t *testing.T) {
	c := harness.New(t)
	rcv := c.StartLogReceiver(4318)
	nodes, cs := c.StartCluster(1, map[string][]byte{"logger.tar": images.Build(t, "logger")}, "--log-forward", rcv.URL)
	srv, ag := nodes[0], nodes[1]

	uid := runLogger(t, cs, "first", ag.Name, 300, 0)
	first := waitLoggerLines(t, rcv, "first", 300)
	want := map[string]string{
		"k8s.namespace.name": "default", "k8s.pod.name": "first", "k8s.pod.uid": uid,
		"k8s.container.name": "logger", "k8s.node.name": ag.Name,
	}
	if fmt.Sprint(first[0].Resource) != fmt.Sprint(want) || first[0].Stream != "stdout" {
		t.Errorf("labelled %v, stream %q; want %v, stdout", first[0].Resource, first[0].Stream, want)
	}
	for _, n := range []*harness.Node{srv, ag} {
		if _, err := rcv.WaitRecords(map[string]string{"service.name": "edgeos", "k8s.node.name": n.Name},
			func(r []harness.LogRecord) bool { return len(r) > 0 }); err != nil {
			t.Errorf("edgeos's own lines from %s: %v", n.Name, err)
		}
	}

	// down for a minute; the agent restarted meanwhile: lines it read and
	// could not send before the stop, lines written after the restart
	rcv.SetDown(true)
	downAt := time.Now()
	runLogger(t, cs, "second", ag.Name, 300, 0)
	waitLoggerDone(t, cs, "second")
	if code := ag.Stop(); code != 0 {
		t.Fatalf("agent exited %d", code)
	}
	runLogger(t, cs, "third", ag.Name, 300, 0) // pending until the agent is back
	ag.Start(ag.AgentArgs(srv, "--log-forward", rcv.URL)...)
	waitLoggerDone(t, cs, "third")
	eventually(t, "the agent tried to send while the receiver was down", func(context.Context) (bool, error) {
		return rcv.Refused() > 0, nil
	})
	time.Sleep(time.Until(downAt.Add(time.Minute)))
	rcv.SetDown(false)
	waitLoggerLines(t, rcv, "second", 300)
	waitLoggerLines(t, rcv, "third", 300)

	// a buffer far smaller than what one pod writes while the receiver
	// is down
	rcv.SetDown(true)
	if code := ag.Stop(); code != 0 {
		t.Fatalf("agent exited %d", code)
	}
	ag.Start(ag.AgentArgs(srv, "--log-forward", rcv.URL, "--log-forward-buffer", "16Ki")...)
	ag.WaitNodeReady(cs)
	const many = 2000
	runLogger(t, cs, "fourth", ag.Name, many, 0)
	waitLoggerDone(t, cs, "fourth")
	var families map[string]*dto.MetricFamily
	eventually(t, "the agent read every line of the pod", func(context.Context) (bool, error) {
		families = agentMetrics(t, ag)
		read := counterWith(families["edgeos_log_forward_read_lines_total"], "source", "pods")
		return read >= many, fmt.Errorf("%v lines read", read)
	})
	rcv.SetDown(false)
	fourth, err := rcv.WaitRecords(map[string]string{"k8s.pod.name": "fourth"}, func(r []harness.LogRecord) bool {
		return len(r) > 0 && strings.HasPrefix(r[len(r)-1].Body, fmt.Sprintf("fourth %d ", many-1))
	})
	if err != nil {
		t.Fatalf("the last line of a pod: %v (%d lines received)", err, len(fourth))
	}
	from := loggerNumber(t, fourth[0].Body)
	checkLoggerRun(t, "fourth", fourth, from, many)
	families = agentMetrics(t, ag)
	dropped := counterWith(families["edgeos_log_forward_dropped_lines_total"], "reason", "buffer_full")
	if from == 0 || dropped < float64(from) {
		t.Errorf("lines %d… of %d arrived; %v counted as dropped", from, many, dropped)
	}
	t.Logf("with a 16 KiB buffer: lines %d to %d of the pod arrived, %v lines counted as dropped", from, many-1, dropped)

	// what the alert rules of docs/alerts.yaml read about log forwarding
	names, err := os.ReadFile(filepath.Join(repoRoot(t), "tests/alerts/series-log-forward.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(strings.Fields(string(names)), "edgeos_log_forward_sent_lines_total", "edgeos_log_forward_buffer_bytes") {
		if families[name] == nil {
			t.Errorf("the agent's metrics lack %s", name)
		}
	}
}

// runLogger starts a pod on node writing count numbered lines, every
// apart; it returns the pod's UID.
func runLogger(t *testing.T, cs kubernetes.Interface, name, node string, count int, every time.Duration) string {
	t.Helper()
	env := []corev1.EnvVar{{Name: "PREFIX", Value: name}, {Name: "COUNT", Value: fmt.Sprint(count)}, {Name: "SIZE", Value: "100"}, {Name: "EVERY", Value: every.String()}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "logger", Image: images.Name("logger"), ImagePullPolicy: corev1.PullNever, Env: env}},
		},
	}
	created, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(created.UID)
}

// waitLoggerDone waits until the logger pod has written all and exited.
func waitLoggerDone(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	eventually(t, "pod "+name+" succeeded", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodFailed {
			t.Fatalf("pod %s failed: %+v", name, p.Status)
		}
		return p.Status.Phase == corev1.PodSucceeded, fmt.Errorf("phase %s", p.Status.Phase)
	})
}

// waitLoggerLines waits until the receiver holds count lines of the
// logger pod name, and checks that they are its lines 0… in order, each
// once.
func waitLoggerLines(t *testing.T, rcv *harness.LogReceiver, name string, count int) []harness.LogRecord {
	t.Helper()
	got, err := rcv.WaitRecords(map[string]string{"k8s.pod.name": name}, func(r []harness.LogRecord) bool { return len(r) >= count })
	if err != nil {
		t.Fatalf("lines of pod %s: %v (%d received)", name, err, len(got))
	}
	checkLoggerRun(t, name, got, 0, count)
	return got
}

// checkLoggerRun checks that got are the logger's lines from…to-1.
func checkLoggerRun(t *testing.T, name string, got []harness.LogRecord, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("pod %s: %d lines received, want lines %d to %d", name, len(got), from, to-1)
	}
	for i, r := range got {
		if n := loggerNumber(t, r.Body); n != from+i || !strings.HasPrefix(r.Body, name+" ") {
			t.Fatalf("pod %s: line %d received is %q, want its line %d", name, i, r.Body, from+i)
		}
	}
}

func loggerNumber(t *testing.T, body string) int {
	t.Helper()
	var prefix string
	var n int
	if _, err := fmt.Sscanf(body, "%s %d", &prefix, &n); err != nil {
		t.Fatalf("line %q: %v", body, err)
	}
	return n
}

// agentMetrics reads the agent's node-local metrics endpoint.
func agentMetrics(t *testing.T, ag *harness.Node) map[string]*dto.MetricFamily {
	t.Helper()
	r := ag.Shell("curl -sf --max-time 10 http://127.0.0.1:10249/metrics")
	if r.ExitCode != 0 {
		t.Fatalf("the agent's metrics endpoint: %d %s", r.ExitCode, r.Stderr)
	}
	return parseMetrics(t, "the agent's metrics", r.Stdout)
}
