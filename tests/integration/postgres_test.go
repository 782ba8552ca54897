package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestPostgresDatastore runs the server on a real PostgreSQL in the node's
// namespace: objects land in PostgreSQL, not SQLite, and with a datastore
// that several servers could share, leader election is on.
func TestPostgresDatastore(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("server")
	endpoint := startPostgres(t, n, "127.0.0.1")
	n.Start(append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig, "--datastore-endpoint", endpoint}, n.NodeFlags()...)...)
	cs := n.WaitReady()

	checkExternalDatastore(t, n, cs, func(key string) harness.Result {
		return n.Shell(`psql -h 127.0.0.1 -U postgres -d edgeos -tAc "select count(*) from kine where name = '` + key + `'"`)
	})
}

// checkExternalDatastore: a server on an external datastore keeps its
// objects there (rows counts a key's rows in it), makes no SQLite file,
// and elects its leaders as servers sharing the datastore would; then it
// stops cleanly.
func checkExternalDatastore(t *testing.T, n *harness.Node, cs kubernetes.Interface, rows func(key string) harness.Result) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "datastore-check", Namespace: "default"}, Data: map[string]string{"a": "b"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := rows("/registry/configmaps/default/datastore-check")
	if got, _ := strconv.Atoi(strings.TrimSpace(r.Stdout)); r.ExitCode != 0 || got < 1 {
		t.Fatalf("the ConfigMap is not in the datastore: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(n.DataDir, "server/db/state.db")); err == nil {
		t.Error("a SQLite database was created although --datastore-endpoint names another datastore")
	}
	for _, lease := range []string{"kube-controller-manager", "kube-scheduler", "edgeos-controllers"} {
		eventually(t, lease+" takes its leader lease", func(ctx context.Context) (bool, error) {
			_, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
			return err == nil, err
		})
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// startPostgres runs a PostgreSQL server in node n's namespace, listening
// on addr, until the test ends, and returns the datastore endpoint of a
// database in it.
func startPostgres(t *testing.T, n *harness.Node, addr string) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL server not installed (scripts/test-deps.sh installs it)")
	}
	pgBin := filepath.Dir(bins[len(bins)-1])
	// PostgreSQL runs as its own user, which cannot enter the test's 0700
	// scratch dirs: it gets a directory of its own.
	pgData, err := os.MkdirTemp("", "eos-pgdata-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pgData) })
	mustRun(t, "chown", "postgres:", pgData)
	mustRun(t, "runuser", "-u", "postgres", "--", filepath.Join(pgBin, "initdb"), "-D", pgData, "--auth=trust", "-U", "postgres")
	// trust from the harness's subnet too: the servers of a test reach it
	// across the bridge (appended: the file stays PostgreSQL's)
	hba, err := os.OpenFile(filepath.Join(pgData, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(hba, "host all all %s/24 trust\n", addr)
	if err := errors.Join(err, hba.Close()); err != nil {
		t.Fatal(err)
	}
	n.Background("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "postgres"), "-D", pgData,
		"-c", "listen_addresses="+addr, "-c", "port=5432", "-c", "unix_socket_directories="+pgData, "-c", "fsync=off")
	return "postgres://postgres@" + addr + ":5432/edgeos?sslmode=disable"
}

// mustRun runs a command on the host and fails the test if it fails.
func mustRun(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
}
