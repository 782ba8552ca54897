package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/scale"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestScale is the scale bench in small (bench/scale.sh has the figures):
// a control-plane-only server on embedded SQLite, 50 nodes simulated by
// kwok, 500 pods through Deployments, then a minute of churn. It asserts
// behaviour only: every pod runs, no change the churn made failed, every
// node stayed Ready, no "database is locked" anywhere, and the
// apiserver's compaction went through to SQLite (every row it replaced
// below the compacted revision gone).
func TestScale(t *testing.T) {
	kwok := scale.InstallKwok(t)
	c := harness.New(t)
	srv := c.AddNode("server")
	// compaction every minute instead of five, so that it happens within the test
	srv.Start(srv.ServerArgs("--disable-agent", "--kube-apiserver-arg", "etcd-compaction-interval=1m")...)
	srv.WaitReady()
	srv.WaitLog("edgeos server is ready")
	rc := srv.RESTConfig()
	rc.QPS, rc.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	kwok.Start(t, srv)

	// 5 namespaces of 5 Deployments of 20 pods: 10 pods a node
	w := scale.Workload{Namespaces: 5, DeploymentsPerNamespace: 5, Replicas: 20, ObjectsPerNamespace: 10}
	scale.CreateNodes(t, cs, srv.IP, 50)
	w.Create(t, cs)
	if got := w.WaitSettled(t, cs, 15*time.Minute); got != 500 {
		t.Fatalf("%d pods settled, want 500", got)
	}

	rep := scale.DefaultChurn(time.Minute).Run(context.Background(), cs, w)
	t.Logf("churn: %s", rep)
	if rep.ErrorCount() > 0 || rep.Ops["rollout"] == 0 || rep.Ops["scale"] == 0 {
		t.Errorf("churn: %s; errors: %v", rep, rep.FirstErrors)
	}
	want := w.WaitSettled(t, cs, 15*time.Minute)
	pods, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: scale.PodLabel + "=pod"})
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running++
		}
	}
	if running != want {
		t.Errorf("%d pods running after the churn, want %d (of %d listed)", running, want, len(pods.Items))
	}

	db := filepath.Join(srv.DataDir, "server", "db", "state.db")
	var ds scale.Datastore
	scale.WaitFor(t, 5*time.Minute, 5*time.Second, func() (bool, string) {
		ds = scale.ReadDatastore(t, db)
		return ds.Compacted > 0 && ds.Superseded == 0, "datastore not compacted: " + ds.String()
	})
	t.Logf("datastore: %s", ds)
	if ds.Rows >= ds.Revision {
		t.Errorf("datastore: %s: compaction removed no row", ds)
	}
	// the simulated kubelets' Leases kept every node Ready throughout
	if n, err := scale.NotReadyEvents(context.Background(), cs); err != nil || n > 0 {
		t.Errorf("NodeNotReady events: %d (%v)", n, err)
	}
	if n := strings.Count(srv.Log(), "database is locked"); n > 0 {
		t.Errorf("\"database is locked\" %d times in the server's log", n)
	}
}
