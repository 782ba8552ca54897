package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPostgresDatastore runs the server on a real PostgreSQL in the node's
// namespace: objects land in PostgreSQL, not SQLite, and with a datastore
// that several servers could share, leader election is on.
func TestPostgresDatastore(t *testing.T) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL server not installed (scripts/test-deps.sh installs it)")
	}
	pgBin := filepath.Dir(bins[len(bins)-1])

	c := harness.New(t)
	n := c.AddNode("server")

	// PostgreSQL runs as its own user, which cannot enter the test's 0700
	// scratch dirs: it gets a directory of its own.
	pgData, err := os.MkdirTemp("", "eos-pgdata-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pgData) })
	asPostgres(t, "chown", "postgres:", pgData)
	asPostgres(t, "runuser", "-u", "postgres", "--", filepath.Join(pgBin, "initdb"), "-D", pgData, "--auth=trust", "-U", "postgres")
	n.Background("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "postgres"), "-D", pgData,
		"-c", "listen_addresses=127.0.0.1", "-c", "port=5432", "-c", "unix_socket_directories="+pgData, "-c", "fsync=off")

	endpoint := "postgres://postgres@127.0.0.1:5432/edgeos?sslmode=disable"
	n.Start(append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig, "--datastore-endpoint", endpoint}, n.NodeFlags()...)...)
	cs := n.WaitReady()

	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pg-check", Namespace: "default"}, Data: map[string]string{"a": "b"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := n.Shell(`psql -h 127.0.0.1 -U postgres -d edgeos -tAc "select count(*) from kine where name = '/registry/configmaps/default/pg-check'"`)
	if got, _ := strconv.Atoi(strings.TrimSpace(r.Stdout)); r.ExitCode != 0 || got < 1 {
		t.Fatalf("the ConfigMap is not in PostgreSQL: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(n.DataDir, "server/db/state.db")); err == nil {
		t.Error("a SQLite database was created although --datastore-endpoint names PostgreSQL")
	}
	for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
		eventually(t, lease+" takes its leader lease", func(ctx context.Context) (bool, error) {
			_, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
			return err == nil, err
		})
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

func asPostgres(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
}
