package datastore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/component/componenttest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestNoCheckpointAfterCompaction runs the embedded datastore, gives it
// more revisions than kine keeps, and compacts: the compaction's deletes
// stay in the WAL, and the database file is not rewritten until SQLite's
// own checkpoint (compactCheckpointOff).
func TestNoCheckpointAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	componenttest.Run(t, New(Config{Dir: dir}))
	ctx := context.Background()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"unix://" + filepath.Join(dir, "kine.sock")}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	// 1100 revisions of one key: kine keeps the newest 1000, so a
	// compaction deletes about 100 rows
	const key = "/registry/leases/kube-node-lease/node"
	var rev int64
	for i := range 1100 {
		// as the apiserver writes: a create, then updates if unchanged
		txn := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(bytes.Repeat([]byte{byte('a' + i%26)}, 470))))
		if rev != 0 {
			txn = txn.Else(clientv3.OpGet(key))
		}
		resp, err := txn.Commit()
		if err != nil || !resp.Succeeded {
			t.Fatalf("update %d: %v %v", i, resp, err)
		}
		rev = resp.Header.Revision
	}

	path := filepath.Join(dir, "state.db")
	db, err := openBeside(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkpoint := func() {
		if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var rows int
	count := func() int {
		if err := db.QueryRow("SELECT count(*) FROM kine").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	checkpoint()
	before, rowsBefore := read(), count()

	if _, err := cli.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if n := count(); n >= rowsBefore {
		t.Fatalf("the compaction deleted nothing: %d rows, %d before", n, rowsBefore)
	}
	if !bytes.Equal(read(), before) {
		t.Fatal("the database file changed at the compaction: kine checkpointed the WAL after it")
	}
	// the deletes are in the WAL, and the file takes them at a checkpoint
	checkpoint()
	if bytes.Equal(read(), before) {
		t.Fatal("the database file did not change at a checkpoint after the compaction")
	}
}
