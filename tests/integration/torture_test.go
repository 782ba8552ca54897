package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	_ "github.com/mattn/go-sqlite3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// killRounds is how many times TestKillNine kills the server.
const killRounds = 20

// TestKillNine kills a server (also its own node) with SIGKILL, 20 times,
// each at a random moment of a load of concurrent ConfigMap creates and
// updates. After each kill the database passes SQLite's integrity check,
// and once the server is back every write it acknowledged is there with
// its value (a write cut off in flight may or may not be); a pod started
// before the first kill still runs, in the same container, not restarted.
func TestKillNine(t *testing.T) {
	c := harness.New(t)
	srv := c.AddNode("server")
	srv.AddImage("echo.tar", images.Build(t, "echo"))
	srv.Start(srv.ServerArgs()...)
	cs := srv.WaitReady()
	srv.WaitNodeReady(cs)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "survivor"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "echo", Image: "edgeos.test/echo:1", ImagePullPolicy: corev1.PullNever,
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first corev1.ContainerStatus
	eventually(t, "pod survivor runs", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "survivor", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 {
			return false, err
		}
		first = p.Status.ContainerStatuses[0]
		return first.ContainerID != "", nil
	})

	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill moments from seed %d", seed)
	acked := map[string][]string{} // name → values it may hold: the acknowledged one, and one in flight
	for round := range killRounds {
		load(t, cs, round, acked, time.Duration(200+rng.IntN(2800))*time.Millisecond, srv)
		checkIntegrity(t, filepath.Join(srv.DataDir, "server", "db", "state.db"))
		srv.Start(srv.ServerArgs()...)
		cs = srv.WaitReady()
		checkAcked(t, cs, round, acked)
	}
	done := 0
	for _, may := range acked {
		if len(may) == 1 {
			done++
		}
	}
	t.Logf("%d ConfigMaps created and updated, acknowledged, across %d kills; %d cut off in flight", done, killRounds, len(acked)-done)
	if done == 0 {
		t.Fatal("no write was acknowledged: the load did not run")
	}
	eventually(t, "pod survivor is Running, in its first container", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "survivor", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 {
			return false, err
		}
		st := p.Status.ContainerStatuses[0]
		if st.ContainerID != first.ContainerID || st.RestartCount != first.RestartCount {
			return false, fmt.Errorf("container %s restarts %d; before the kills %s restarts %d", st.ContainerID, st.RestartCount, first.ContainerID, first.RestartCount)
		}
		return st.Ready, nil
	})
	if code := srv.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// load runs 4 writers of ConfigMaps (create, then update) against srv and
// kills srv with SIGKILL after killAfter. It records in acked what each
// ConfigMap may hold.
func load(t *testing.T, cs kubernetes.Interface, round int, acked map[string][]string, killAfter time.Duration, srv *harness.Node) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for i := range 500 {
				select {
				case <-done:
					return
				default:
				}
				name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "1"}}
				mu.Lock()
				acked[name] = []string{"", "1"} // absent, or created
				mu.Unlock()
				created, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[name] = []string{"1", "2"}
				mu.Unlock()
				created.Data["v"] = "2"
				if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, created, metav1.UpdateOptions{}); err != nil {
					return
				}
				mu.Lock()
				acked[name] = []string{"2"}
				mu.Unlock()
			}
		})
	}
	time.Sleep(killAfter)
	srv.Kill()
	close(done)
	wg.Wait()
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check after a SIGKILL: %q %v", res, err)
	}
}

// checkAcked compares every ConfigMap written so far with what it may hold.
func checkAcked(t *testing.T, cs kubernetes.Interface, round int, acked map[string][]string) {
	t.Helper()
	var l *corev1.ConfigMapList
	eventually(t, "listing ConfigMaps after the restart", func(ctx context.Context) (bool, error) {
		var err error
		l, err = cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	have := map[string]string{}
	for _, cm := range l.Items {
		have[cm.Name] = cm.Data["v"]
	}
	var errs []error
	for name, may := range acked {
		got := have[name]
		ok := false
		for _, v := range may {
			ok = ok || got == v
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s holds %q, want one of %q", name, got, may))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("after kill %d: %v", round+1, err)
	}
}
