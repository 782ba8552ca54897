package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSnapshots saves a snapshot of a server with an agent while a writer
// creates ConfigMaps one after another, changes more objects, then
// restores it with `edgeos server --cluster-reset --restore-path`: the
// cluster holds exactly the snapshot's objects (a prefix of the writes,
// with every write acknowledged before the save began and none made after
// it ended), and both nodes come back Ready. A restore under another token
// is refused and changes nothing. Scheduled snapshots keep their
// retention.
func TestSnapshots(t *testing.T) {
	c := harness.New(t)
	srv, ag := c.AddNode("server"), c.AddNode("agent1")
	srv.Start(srv.ServerArgs("--snapshot-schedule", "@every 10s", "--snapshot-retention", "2")...)
	cs := srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	srv.WaitNodeReady(cs)
	ag.WaitNodeReady(cs)
	ctx := context.Background()

	// a writer: ConfigMaps load-0, load-1, … one after another
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 5000 {
			select {
			case <-stop:
				return
			default:
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("load-%d", i)}, Data: map[string]string{"v": "before"}}
			if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Errorf("load-%d: %v", i, err)
				return
			}
			acked.Store(int64(i + 1))
		}
	})
	for acked.Load() < 30 {
		time.Sleep(100 * time.Millisecond)
	}
	before := acked.Load()
	r := srv.Run("snapshot", "save", "--data-dir", srv.DataDir, "--node-name", srv.Name)
	after := acked.Load()
	for acked.Load() < after+10 {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if r.ExitCode != 0 {
		t.Fatalf("snapshot save: %s %s", r.Stdout, r.Stderr)
	}
	saved := strings.TrimSpace(r.Stdout)
	if filepath.Dir(saved) != filepath.Join(srv.DataDir, "server", "db", "snapshots") || !strings.Contains(filepath.Base(saved), "on-demand-server-") {
		t.Fatalf("snapshot path %q", saved)
	}
	// more changes after the snapshot
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-save"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "load-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["v"] = "after"
	if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "load-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// scheduled snapshots: at least three taken, two kept
	eventually(t, "three scheduled snapshots", func(context.Context) (bool, error) {
		return strings.Count(srv.Log(), "Saved snapshot") >= 3, nil
	})
	list := srv.Run("snapshot", "list", "--data-dir", srv.DataDir, "--node-name", srv.Name)
	if n := strings.Count(list.Stdout, " scheduled "); n != 2 || !strings.Contains(list.Stdout, filepath.Base(saved)) {
		t.Errorf("snapshot list with --snapshot-retention 2 (%d scheduled):\n%s", n, list.Stdout)
	}

	if code := ag.Stop(); code != 0 {
		t.Errorf("agent exit code %d", code)
	}
	if code := srv.Stop(); code != 0 {
		t.Errorf("server exit code %d", code)
	}
	state := snapshot(t, filepath.Join(srv.DataDir, "server"))
	expectRefusal(t, "restore under another token", srv.Run(srv.ServerArgs("--cluster-reset", "--restore-path", saved, "--token", "not-the-token")...), "another token")
	sameSnapshot(t, "a refused restore", state, snapshot(t, filepath.Join(srv.DataDir, "server")))

	if r := srv.Run(srv.ServerArgs("--cluster-reset", "--restore-path", saved)...); r.ExitCode != 0 || !strings.Contains(r.Stderr, "Restored") {
		t.Fatalf("restore: %d %s", r.ExitCode, r.Stderr)
	}
	restored := time.Now()
	srv.Start(srv.ServerArgs()...)
	cs = srv.WaitReady()
	ag.Start(ag.AgentArgs(srv)...)
	nodeReady(t, cs, srv.Name, restored)
	nodeReady(t, cs, ag.Name, restored)

	l, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, cm := range l.Items {
		have[cm.Name] = cm.Data["v"]
	}
	n := int64(0)
	for ; ; n++ {
		if _, ok := have[fmt.Sprintf("load-%d", n)]; !ok {
			break
		}
	}
	for name := range have {
		var i int64
		if _, err := fmt.Sscanf(name, "load-%d", &i); err == nil && i >= n {
			t.Errorf("%s is there but load-%d is not: the restore is not one moment of the writes", name, n)
		}
	}
	if n < before || n > after {
		t.Errorf("restored load-0…load-%d; %d were acknowledged before the save began, %d when it ended", n-1, before, after)
	}
	if _, ok := have["after-save"]; ok {
		t.Error("a ConfigMap created after the snapshot is there")
	}
	if have["load-0"] != "before" {
		t.Errorf("load-0 holds %q, its value after the snapshot", have["load-0"])
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "load-1", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Error("load-1, deleted after the snapshot, is gone")
	}
	for _, n := range []*harness.Node{ag, srv} {
		if code := n.Stop(); code != 0 {
			t.Errorf("%s exit code %d", n.Name, code)
		}
	}
}
