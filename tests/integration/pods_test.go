package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// TestPods runs real pods on a single-node server: the node becomes Ready,
// a Deployment's pod runs with its ConfigMap and Secret, gets an address
// from the node's podCIDR and serves it, logs and exec work, the kubelet's
// stats summary reports its CPU and memory, CPU and memory limits reach the
// container's cgroup, a hostPort answers at the node's address and its rules
// go with the pod, a Job completes, a CronJob fires, a failing liveness
// probe restarts a container, a readiness probe gates a Service's
// endpoints, and a pod keeps serving through a SIGKILL of edgeos and is the
// same pod after it restarts. No image is pulled: the node holds
// the pause image and the test image only.
func TestPods(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("node")
	dir := filepath.Join(n.DataDir, "agent", "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "echo.tar"), images.Build(t, "echo"))
	// the start-up pages go early, so that all below runs after
	n.Start(n.ServerArgs("--pageout-after=20s")...)
	pagedOut := checkPageOut(t, n)
	cs := n.WaitReady()

	node := nodeReady(t, cs, n.Name, time.Time{})
	pagedOut()
	_, podNet, err := net.ParseCIDR(node.Spec.PodCIDR)
	if err != nil {
		t.Fatalf("node podCIDR %q: %v", node.Spec.PodCIDR, err)
	}

	if r := n.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/pods.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	var pod corev1.Pod
	eventually(t, "the Deployment's pod runs", func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil || len(l.Items) != 1 || l.Items[0].Status.Phase != corev1.PodRunning {
			return false, err
		}
		pod = l.Items[0]
		return true, nil
	})
	if !podNet.Contains(net.ParseIP(pod.Status.PodIP)) {
		t.Errorf("pod IP %s is outside the node's podCIDR %s", pod.Status.PodIP, podNet)
	}

	for _, probe := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "deploy/echo"}, "echo listening on :8080"},
		{[]string{"exec", "deploy/echo", "--", "/echo", "env", "MESSAGE"}, "hello"},
		{[]string{"exec", "deploy/echo", "--", "/echo", "env", "PASSWORD"}, "s3cret"},
		{[]string{"exec", "deploy/echo", "--", "/echo", "cat", "/etc/settings/greeting"}, "hello"},
	} {
		r := n.Run(append([]string{"kubectl"}, probe.args...)...)
		if r.ExitCode != 0 || !strings.Contains(r.Stdout, probe.want) {
			t.Errorf("kubectl %s: %q %q, want %q", strings.Join(probe.args, " "), r.Stdout, r.Stderr, probe.want)
		}
	}
	if r := n.Shell("curl -s --max-time 5 http://" + pod.Status.PodIP + ":8080/from-node"); !strings.Contains(r.Stdout, "/from-node hello") {
		t.Errorf("the pod does not answer at its address from the node: %q %q", r.Stdout, r.Stderr)
	}

	checkHostPort(t, cs, n)
	checkStats(t, cs, n, pod)

	eventually(t, "the Job completes", func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1, err
	})
	checkLimits(t, n)
	eventually(t, "a failing liveness probe restarts the container", func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=liveness"})
		if err != nil || len(l.Items) != 1 || len(l.Items[0].Status.ContainerStatuses) != 1 {
			return false, err
		}
		return l.Items[0].Status.ContainerStatuses[0].RestartCount >= 1, nil
	})
	eventually(t, "the readiness probe gates the Service's endpoints", func(ctx context.Context) (bool, error) {
		slices, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=gated"})
		if err != nil {
			return false, err
		}
		ready := map[string]bool{}
		for _, sl := range slices.Items {
			for _, ep := range sl.Endpoints {
				if ep.TargetRef != nil && ep.Conditions.Ready != nil {
					ready[ep.TargetRef.Name] = *ep.Conditions.Ready
				}
			}
		}
		r, okR := ready["ready"]
		nr, okN := ready["notready"]
		return okR && okN && r && !nr, nil
	})
	eventually(t, "the CronJob fires and its Job completes", func(ctx context.Context) (bool, error) {
		jobs, err := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, j := range jobs.Items {
			if len(j.OwnerReferences) == 1 && j.OwnerReferences[0].Name == "minutely" && j.Status.Succeeded == 1 {
				return true, nil
			}
		}
		return false, nil
	})

	// The shims page themselves out --pageout-after from their own start
	// (cmd/shim): those of the pods running since well before have.
	eventually(t, "a pod's shim pages itself out", func(context.Context) (bool, error) {
		for _, pid := range n.PIDs() {
			if shimPagedOut(t, pid) {
				return true, nil
			}
		}
		return false, nil
	})

	// SIGKILL edgeos: the pod keeps serving, and after a restart it is the
	// same pod, not restarted, on a Ready node.
	restarts := pod.Status.ContainerStatuses[0].RestartCount
	url := "http://" + pod.Status.PodIP + ":8080/while-down"
	killed := time.Now()
	n.Kill()
	if r := n.Shell("curl -s --max-time 5 " + url); !strings.Contains(r.Stdout, "/while-down hello") {
		t.Errorf("the pod stopped serving when edgeos was killed: %q %q", r.Stdout, r.Stderr)
	}
	n.Start(append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)...)
	cs = n.WaitReady()
	// Ready again, by a heartbeat from after the kill
	nodeReady(t, cs, n.Name, killed)
	after, err := cs.CoreV1().Pods("default").Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the pod is gone after the restart: %v", err)
	}
	if after.UID != pod.UID || after.Status.ContainerStatuses[0].RestartCount != restarts {
		t.Errorf("after the restart: uid %s restarts %d; before: uid %s restarts %d", after.UID, after.Status.ContainerStatuses[0].RestartCount, pod.UID, restarts)
	}
	if r := n.Shell("curl -s --max-time 5 " + url); !strings.Contains(r.Stdout, "/while-down hello") {
		t.Errorf("the pod does not answer after the restart: %q %q", r.Stdout, r.Stderr)
	}

	// containers run on the runc edgeos carries, not the host's
	runc := filepath.Join(n.DataDir, "agent", "bin", "runc")
	if r := n.Shell(runc + " --version"); !strings.Contains(r.Stdout, "runc version 1.5.2") {
		t.Errorf("the bundled runc: %q %q", r.Stdout, r.Stderr)
	}
	if conf, _ := os.ReadFile(filepath.Join(n.DataDir, "agent", "etc", "containerd", "config.toml")); !strings.Contains(string(conf), fmt.Sprintf("BinaryName = %q", runc)) {
		t.Errorf("containerd does not run the bundled runc:\n%s", conf)
	}
	if names := nodeImages(t, n); !slices.Equal(names, []string{"edgeos.local/pause:1", "edgeos.test/echo:1"}) {
		t.Errorf("images on the node: %v; anything beyond the built-in and test images was pulled", names)
	}
	checkContainerdRestarts(t, cs, n, url)
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// checkContainerdRestarts kills containerd with SIGKILL: the pod at url
// keeps serving, edgeos starts containerd again without restarting itself,
// and a new pod starts through the new containerd.
func checkContainerdRestarts(t *testing.T, cs kubernetes.Interface, n *harness.Node, url string) {
	t.Helper()
	edgeos, killed := n.PID(), containerdPID(t, n)
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := n.Shell("curl -s --max-time 5 " + url); !strings.Contains(r.Stdout, "/while-down hello") {
		t.Errorf("the pod stopped serving when containerd was killed: %q %q", r.Stdout, r.Stderr)
	}
	n.WaitLog(fmt.Sprintf("containerd (pid %d) exited", killed))
	eventually(t, "containerd runs again", func(context.Context) (bool, error) {
		return strings.Count(n.Log(), "containerd is running (pid") == 2, nil
	})
	if again := containerdPID(t, n); again == killed || n.PID() != edgeos || syscall.Kill(edgeos, 0) != nil {
		t.Fatalf("after the kill: containerd pid %d (was %d), edgeos pid %d (was %d)", again, killed, n.PID(), edgeos)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "after-containerd"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "echo", Image: images.Name("echo"), ImagePullPolicy: corev1.PullNever,
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a pod starts through the new containerd", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
}

// containerdPID is the pid of the node's containerd.
func containerdPID(t *testing.T, n *harness.Node) int {
	t.Helper()
	containerd := filepath.Join(n.DataDir, "agent", "bin", "containerd")
	for _, p := range n.PIDs() {
		if exe, _ := os.Readlink("/proc/" + p + "/exe"); exe == containerd {
			pid, _ := strconv.Atoi(p)
			return pid
		}
	}
	t.Fatalf("no process of %s among the node's %v", containerd, n.PIDs())
	return 0
}

// checkStats reads the kubelet's stats summary, what metrics-server and
// kubectl top show: the pod's container has used CPU, has a usage rate
// (from containerd's CPU samples, taken every 10 s, or the kubelet's own)
// and a working set.
func checkStats(t *testing.T, cs kubernetes.Interface, n *harness.Node, pod corev1.Pod) {
	t.Helper()
	var last string
	eventually(t, "the stats summary reports the pod's CPU and memory", func(ctx context.Context) (bool, error) {
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", n.Name, "proxy/stats/summary").DoRaw(ctx)
		if err != nil {
			return false, err
		}
		var s statsapi.Summary
		if err := json.Unmarshal(raw, &s); err != nil {
			return false, err
		}
		for _, p := range s.Pods {
			if p.PodRef.UID != string(pod.UID) {
				continue
			}
			for _, c := range p.Containers {
				if c.Name != "echo" || c.CPU == nil || c.Memory == nil {
					continue
				}
				last = fmt.Sprintf("cpu %s, memory %s", marshal(c.CPU), marshal(c.Memory))
				ok := c.CPU.UsageCoreNanoSeconds != nil && *c.CPU.UsageCoreNanoSeconds > 0 &&
					c.CPU.UsageNanoCores != nil &&
					c.Memory.WorkingSetBytes != nil && *c.Memory.WorkingSetBytes > 0
				return ok, nil
			}
		}
		return false, fmt.Errorf("no stats for container echo of pod %s; last seen: %s", pod.Name, last)
	})
	t.Logf("stats summary for the echo container: %s", last)
}

func marshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// checkPageOut reads how much of edgeos's and containerd's programs is
// resident once the server is ready; the function it returns waits for
// the page-out (pkg/pageout; containerd pages itself out, cmd/containerd)
// and checks that both at least halved. All of TestPods after that runs
// on what came back.
func checkPageOut(t *testing.T, n *harness.Node) (after func()) {
	t.Helper()
	// The delay counts from the end of edgeos's start-up, for containerd
	// too (edgeos signals it), and the ready line follows that moment at
	// once: "before" is read then, however long the start took.
	n.WaitLog("edgeos server is ready")
	ctrd := containerdPID(t, n)
	edgeos := n.PID()
	before := map[int]int64{edgeos: fileResident(t, edgeos), ctrd: fileResident(t, ctrd)}
	if strings.Contains(n.Log(), "aged out start-up pages") {
		t.Fatal("the page-out came before its \"before\" could be measured")
	}
	return func() {
		t.Helper()
		n.WaitLog("Paged out start-up pages")
		n.WaitLog("containerd: paged out start-up pages")
		for pid, b := range before {
			if after := fileResident(t, pid); after > b/2 {
				t.Errorf("process %d: file-backed resident memory %d → %d MiB, not even halved", pid, b>>20, after>>20)
			}
		}
	}
}

// shimPagedOut reports whether process pid is a runc shim whose mappings of
// its program are all marked for random reads (VmFlags rr), which only its
// own page-out does (pageout.Self).
func shimPagedOut(t *testing.T, pid string) bool {
	t.Helper()
	exe, err := os.Readlink("/proc/" + pid + "/exe")
	if err != nil || filepath.Base(exe) != "containerd-shim-runc-v2" {
		return false
	}
	smaps, err := os.ReadFile("/proc/" + pid + "/smaps")
	if err != nil {
		return false // gone meanwhile
	}
	mappings, marked, ours := 0, 0, false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-"):
			ours = f[5] == exe
			if ours {
				mappings++
			}
		case ours && len(f) > 0 && f[0] == "VmFlags:":
			if slices.Contains(f[1:], "rr") {
				marked++
			}
		}
	}
	return mappings > 0 && marked == mappings
}

// fileResident is a process's resident memory backed by files (its
// program's pages, mostly), in bytes.
func fileResident(t *testing.T, pid int) int64 {
	t.Helper()
	kb := harness.ProcFields(t, fmt.Sprintf("/proc/%d/smaps_rollup", pid), "kB")
	return (kb["Rss"] - kb["Anonymous"]) << 10
}

// checkHostPort reaches the hostport pod at the node's address from outside
// the node, from the node itself and from the pod (hairpin), and checks that
// deleting the pod removes its forwarding rules.
func checkHostPort(t *testing.T, cs kubernetes.Interface, n *harness.Node) {
	t.Helper()
	eventually(t, "the hostport pod runs", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "hostport", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	url := "http://" + net.JoinHostPort(n.IP, "18080")
	want := "echo from hostport: /hostport"
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url + "/hostport")
	if err != nil {
		t.Errorf("hostPort from outside the node: %v", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("hostPort from outside the node answered %q, want %q", body, want)
		}
	}
	if r := n.Shell("curl -s --max-time 5 " + url + "/hostport"); !strings.Contains(r.Stdout, want) {
		t.Errorf("hostPort from the node: %q %q", r.Stdout, r.Stderr)
	}
	if r := n.Run("kubectl", "exec", "hostport", "--", "/echo", "get", url+"/hostport"); !strings.Contains(r.Stdout, want) {
		t.Errorf("hostPort from the pod itself (hairpin): %q %q", r.Stdout, r.Stderr)
	}
	if r := n.Run("kubectl", "delete", "pod", "hostport", "--wait"); r.ExitCode != 0 {
		t.Fatalf("deleting the hostport pod: %s", r.Stderr)
	}
	eventually(t, "the hostport pod's rules are removed", func(ctx context.Context) (bool, error) {
		r := n.Shell("iptables -t nat -S")
		if r.ExitCode != 0 || strings.Contains(r.Stdout, "EDGEOS-HP-") {
			return false, fmt.Errorf("iptables -t nat -S: %s %s", r.Stdout, r.Stderr)
		}
		return true, nil
	})
}

// checkLimits reads the echo container's cgroup limits from inside it
// (cgroup v1 or v2): 64Mi of memory, 200m of CPU.
func checkLimits(t *testing.T, n *harness.Node) {
	t.Helper()
	read := func(paths ...string) string {
		for _, p := range paths {
			r := n.Run("kubectl", "exec", "deploy/echo", "--", "/echo", "cat", p)
			if r.ExitCode == 0 {
				return strings.TrimSpace(r.Stdout)
			}
		}
		return ""
	}
	mem := read("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max")
	if mem != "67108864" {
		t.Errorf("container memory limit %q, want 67108864 (64Mi)", mem)
	}
	cpu := read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max")
	if cpu != "20000" && !strings.HasPrefix(cpu, "20000 ") {
		t.Errorf("container CPU quota %q, want 20000 of 100000 (200m)", cpu)
	}
}
