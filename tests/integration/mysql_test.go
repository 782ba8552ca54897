package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
)

// TestMySQLDatastore is a smoke test of MariaDB (Debian's mariadb-server)
// as the datastore: a server starts on it, its objects land there, and
// it elects its controllers' leaders as servers sharing it would.
func TestMySQLDatastore(t *testing.T) {
	c := harness.New(t)
	db, n := c.AddNode("db"), c.AddNode("server")
	endpoint, socket := startMariaDB(t, db)
	n.Start(n.ServerArgs("--disable-agent", "--datastore-endpoint", endpoint)...)
	cs := n.WaitReady()
	checkExternalDatastore(t, n, cs, func(key string) harness.Result {
		return db.Shell(`mariadb --socket ` + socket + ` -u root -N -e "select count(*) from edgeos.kine where name = '` + key + `'"`)
	})
}

// startMariaDB runs MariaDB in node n's namespace until the test ends,
// with a database and a user for edgeos, and returns the endpoint and its
// socket for root.
func startMariaDB(t *testing.T, n *harness.Node) (endpoint, socket string) {
	t.Helper()
	server, err := exec.LookPath("mariadbd")
	if err != nil {
		t.Fatal("MariaDB not installed (scripts/test-deps.sh installs Debian's mariadb-server)")
	}
	// it runs as its own user, which cannot enter the test's 0700 dirs
	dir, err := os.MkdirTemp("", "eos-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mustRun(t, "chown", "mysql:", dir)
	mustRun(t, "mariadb-install-db", "--user=mysql", "--datadir="+filepath.Join(dir, "data"), "--skip-test-db")
	n.Background(server, "--no-defaults", "--user=mysql", "--datadir="+filepath.Join(dir, "data"), "--socket="+filepath.Join(dir, "sock"),
		"--bind-address="+n.IP, "--port=3306", "--pid-file="+filepath.Join(dir, "pid"), "--log-error="+filepath.Join(dir, "error.log"))
	socket = filepath.Join(dir, "sock")
	eventually(t, "MariaDB answers", func(context.Context) (bool, error) {
		r := n.Shell("mariadb --socket " + socket + ` -u root -e "CREATE DATABASE IF NOT EXISTS edgeos; CREATE USER IF NOT EXISTS 'edgeos'@'%' IDENTIFIED BY 'edgeos-pw'; GRANT ALL ON edgeos.* TO 'edgeos'@'%'"`)
		return r.ExitCode == 0, nil
	})
	return "mysql://edgeos:edgeos-pw@tcp(" + n.IP + ":3306)/edgeos", socket
}
