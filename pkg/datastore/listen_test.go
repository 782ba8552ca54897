package datastore

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// An etcd endpoint is handed to the apiserver as it is: no socket, no
// driver.
func TestListenPassesEtcdThrough(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "kine.sock")
	k, err := listen(drivers.Config{Endpoint: "https://10.0.0.1:2379,https://10.0.0.2:2379"}, api{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	if want := []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379"}; !slices.Equal(k.endpoints, want) {
		t.Errorf("endpoints %q, want %q", k.endpoints, want)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("a socket was made for an etcd endpoint")
	}
}

// A scheme edgeos links no driver for (kine's NATS, say) is refused.
func TestListenUnknownScheme(t *testing.T) {
	if k, err := listen(drivers.Config{Endpoint: "nats://127.0.0.1:4222"}, api{Socket: filepath.Join(t.TempDir(), "kine.sock")}); err == nil {
		k.close()
		t.Fatal("a nats:// endpoint was taken")
	}
}

// SQLite behind the etcd API on a root-only socket, publishing kine's
// series, twice in one process, and nothing served after close.
func TestListenSQLite(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		// kine's drivers register their series in a registry once, as
		// edgeos does with one datastore per process
		reg := prometheus.NewRegistry()
		sock := filepath.Join(dir, "kine.sock")
		k, err := listen(Config{Metrics: reg}.driver("sqlite://"+filepath.Join(dir, "state.db")+"?"+SQLiteParams),
			api{Socket: sock, NotifyInterval: 5 * time.Second, EtcdVersion: "3.6.11"})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st, err := os.Stat(sock)
		if err != nil || st.Mode().Perm() != 0o600 || st.Mode().Type() != os.ModeSocket {
			t.Fatalf("socket %v %v, want a socket for root only", st, err)
		}
		if want := []string{"unix://" + sock}; !slices.Equal(k.endpoints, want) {
			t.Errorf("endpoints %q, want %q", k.endpoints, want)
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: k.endpoints, DialTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		key := "/registry/configmaps/default/round"
		if round == 0 {
			// a create, as the apiserver writes one
			resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).Then(clientv3.OpPut(key, "kept")).Commit()
			if err != nil || !resp.Succeeded {
				t.Fatalf("create: %v %v", resp, err)
			}
		}
		resp, err := cli.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "kept" {
			t.Fatalf("round %d: get %v %v, want the value put in round 0", round, resp, err)
		}
		cancel()
		cli.Close()
		k.close()
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			t.Fatalf("round %d: the socket still answers after close", round)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(families, func(f *dto.MetricFamily) bool { return f.GetName() == "kine_sql_total" }) {
			t.Errorf("round %d: kine_sql_total is not published", round)
		}
	}
}
