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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestLocalStorage runs the built-in local-path volumes on a server and an
// agent: a StatefulSet spread over both keeps each pod's data across pod
// deletion and a restart of every node, with no binding lost; deleting its
// claims removes the directories from the right nodes; a Retain volume
// keeps its directory; a ReadWriteMany claim stays Pending with an Event
// that says why; no storage pod ever runs in kube-system.
func TestLocalStorage(t *testing.T) {
	c := harness.New(t)
	nodes, cs := c.StartCluster(1, map[string][]byte{"echo.tar": images.Build(t, "echo")})
	srv, ag := nodes[0], nodes[1]
	byName := map[string]*harness.Node{srv.Name: srv, ag.Name: ag}
	if r := srv.Run("kubectl", "apply", "-f", filepath.Join(repoRoot(t), "tests/testdata/storage.yaml")); r.ExitCode != 0 {
		t.Fatalf("apply: %s %s", r.Stdout, r.Stderr)
	}
	ctx := context.Background()
	pods := []string{"data-0", "data-1", "keeper"}
	waitRunning(t, cs, pods...)
	where := map[string]string{} // pod → node
	for _, p := range pods {
		pod, err := cs.CoreV1().Pods("default").Get(ctx, p, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		where[p] = pod.Spec.NodeName
		if r := srv.Run("kubectl", "exec", p, "--", "/echo", "write", "/data/who", p); r.ExitCode != 0 {
			t.Fatalf("writing in %s: %s", p, r.Stderr)
		}
	}
	if where["data-0"] == where["data-1"] {
		t.Fatalf("both StatefulSet pods on %s", where["data-0"])
	}
	dirs := map[string]string{} // pod → its volume directory on its node
	for _, p := range pods {
		claim := "vol-" + p
		if p == "keeper" {
			claim = "kept"
		}
		matches, _ := filepath.Glob(filepath.Join(byName[where[p]].DataDir, "storage", "pvc-*_default_"+claim))
		if len(matches) != 1 {
			t.Fatalf("volume of %s on %s: %v", p, where[p], matches)
		}
		if b, err := os.ReadFile(filepath.Join(matches[0], "who")); err != nil || string(b) != p {
			t.Errorf("%s wrote %q to its volume on its node (%v)", p, b, err)
		}
		dirs[p] = matches[0]
	}
	volumes := boundVolumes(t, cs, "vol-data-0", "vol-data-1", "kept")

	eventually(t, "the ReadWriteMany claim is refused with an Event", func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=shared"})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == "ProvisioningFailed" && strings.Contains(e.Message, "ReadWriteMany is not supported") {
				return true, nil
			}
		}
		return false, nil
	})
	if pvc, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "shared", metav1.GetOptions{}); err != nil || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("the ReadWriteMany claim: %v %v", pvc.Status.Phase, err)
	}

	// new pods see their own data
	if r := srv.Run("kubectl", "delete", "pod", "data-0", "data-1"); r.ExitCode != 0 {
		t.Fatal(r.Stderr)
	}
	waitRunning(t, cs, "data-0", "data-1")
	checkData(t, srv, "data-0", "data-1")

	// every node restarts: nothing lost, nothing rebound
	for _, n := range []*harness.Node{ag, srv} {
		if code := n.Stop(); code != 0 {
			t.Errorf("%s exit code %d", n.Name, code)
		}
	}
	restarted := time.Now()
	srv.Start(srv.ServerArgs()...)
	cs = srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	for _, n := range nodes {
		nodeReady(t, cs, n.Name, restarted) // by a heartbeat of the new kubelet
	}
	waitRunning(t, cs, pods...)
	checkData(t, srv, pods...)
	if after := boundVolumes(t, cs, "vol-data-0", "vol-data-1", "kept"); fmt.Sprint(after) != fmt.Sprint(volumes) {
		t.Errorf("bindings after the restart %v, before %v", after, volumes)
	}

	// deleting the claims removes the directories from the right nodes;
	// the Retain volume keeps its directory
	for _, r := range []harness.Result{
		srv.Run("kubectl", "delete", "statefulset", "data", "--wait"),
		srv.Run("kubectl", "delete", "pod", "keeper", "sharer", "--wait"),
		srv.Run("kubectl", "delete", "pvc", "vol-data-0", "vol-data-1", "kept", "shared"),
	} {
		if r.ExitCode != 0 {
			t.Fatalf("deleting: %s", r.Stderr)
		}
	}
	for _, p := range []string{"data-0", "data-1"} {
		eventually(t, "the volume directory of "+p+" vanishes from "+where[p], func(context.Context) (bool, error) {
			_, err := os.Stat(dirs[p])
			return os.IsNotExist(err), err
		})
		eventually(t, "the PV of "+p+" is deleted", func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().PersistentVolumes().Get(ctx, volumes["vol-"+p], metav1.GetOptions{})
			return err != nil && strings.Contains(err.Error(), "not found"), nil
		})
	}
	eventually(t, "the Retain volume is released", func(ctx context.Context) (bool, error) {
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, volumes["kept"], metav1.GetOptions{})
		return err == nil && pv.Status.Phase == corev1.VolumeReleased, err
	})
	if b, err := os.ReadFile(filepath.Join(dirs["keeper"], "who")); err != nil || string(b) != "keeper" {
		t.Errorf("the Retain volume's data: %q %v", b, err)
	}

	if l, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("pods in kube-system: %v %v", l, err)
	}
	ag.Stop()
	srv.Stop()
}

func waitRunning(t *testing.T, cs kubernetes.Interface, pods ...string) {
	t.Helper()
	for _, name := range pods {
		eventually(t, "pod "+name+" runs", func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil, nil
		})
	}
}

// checkData reads each pod's /data/who, which must hold the pod's name.
// A read fails while a just-restarted kubelet has not taken the pod up
// again; a wrong content fails the test at once.
func checkData(t *testing.T, n *harness.Node, pods ...string) {
	t.Helper()
	for _, p := range pods {
		eventually(t, p+" reads its own data", func(context.Context) (bool, error) {
			r := n.Run("kubectl", "exec", p, "--", "/echo", "cat", "/data/who")
			if r.ExitCode == 0 && r.Stdout != p {
				t.Fatalf("%s sees %q in its volume", p, r.Stdout)
			}
			return r.ExitCode == 0, fmt.Errorf("%s", r.Stderr)
		})
	}
}

// boundVolumes maps each claim to the PV it is bound to.
func boundVolumes(t *testing.T, cs kubernetes.Interface, claims ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range claims {
		pvc, err := cs.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), c, metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound {
			t.Fatalf("claim %s not bound: %v", c, err)
		}
		out[c] = pvc.Spec.VolumeName
	}
	return out
}
