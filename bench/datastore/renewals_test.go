package datastore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/edgeos/edgeos/pkg/datastore"
)

// What an idle node writes, per node Lease renewal, once its datastore holds
// more than the 1000 revisions kine keeps: from then on each compaction
// (the apiserver's, every 5 minutes: every 10 renewals of 30 s) deletes
// rows, and kine, by default, checkpoints the WAL into the database file
// after it. Renewals are 30 s apart on a node; here they come one after
// another, each followed by a syncfs, so that each finds its pages written
// back as 30 s would have (the kernel writes dirty pages back after 30 s).
const (
	leaseKey       = "/registry/leases/kube-node-lease/server"
	leaseSize      = 470 // bytes, as the apiserver stores a node Lease
	renewals       = 120 // an hour
	compactEvery   = 10
	agedRevisions  = 1100 // past kine's CompactMinRetain
	renewalObjects = 100  // other objects, of objectSize
)

func BenchmarkIdleRenewals(b *testing.B) {
	type result struct {
		name        string
		perRenewal  float64
		walMax, end int64
	}
	var results []result
	for _, v := range []struct {
		name  string
		start func(dir string) (*clientv3.Client, func())
	}{
		{"edgeos", func(dir string) (*clientv3.Client, func()) { return runEdgeos(b, dir) }},
		{"kine's default: a WAL checkpoint after each compaction", func(dir string) (*clientv3.Client, func()) {
			// the file as edgeos makes it (its page size)
			_, stop := runEdgeos(b, dir)
			stop()
			stop = startKineWith(b, dir, datastore.SQLiteParams, 0)
			cli, stopCli := client(b, dir)
			return cli, func() { stopCli(); stop() }
		}},
	} {
		dir := b.TempDir()
		cli, stop := v.start(dir)
		put(b, cli, "live", renewalObjects, strings.Repeat("x", objectSize))
		lease := strings.Repeat("l", leaseSize)
		if _, err := cli.Put(context.Background(), leaseKey, lease); err != nil {
			b.Fatal(err)
		}
		for range agedRevisions {
			renew(b, cli, lease)
		}
		compact(b, cli)

		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			b.Fatal(err)
		}
		syncfs := func() {
			if err := unix.Syncfs(fd); err != nil {
				b.Fatal(err)
			}
		}
		wal := filepath.Join(dir, "state.db-wal")
		r := result{name: v.name}
		syncfs()
		before := writeBytes(b)
		var compactTo int64
		for i := range renewals {
			rev := renew(b, cli, lease)
			syncfs()
			if i%compactEvery == compactEvery-1 {
				// as the apiserver: to the revision it saw at its last run
				if compactTo > 0 {
					if _, err := cli.Compact(context.Background(), compactTo); err != nil {
						b.Fatal(err)
					}
					syncfs()
				}
				compactTo = rev
			}
			r.walMax = max(r.walMax, fileSize(b, wal))
		}
		r.perRenewal = float64(writeBytes(b)-before) / renewals
		r.end = fileSize(b, filepath.Join(dir, "state.db"))
		unix.Close(fd)
		stop()
		results = append(results, r)
	}

	var t bytes.Buffer
	fmt.Fprintf(&t, "\nIdle: a node Lease of %d bytes renewed %d times (an hour at 30 s), the datastore compacted every %d renewals as the apiserver does, after %d earlier revisions (kine keeps the newest 1000) and beside %d objects of %d bytes; a syncfs after each step stands for the 30 s between renewals.\n\n",
		leaseSize, renewals, compactEvery, agedRevisions, renewalObjects, objectSize)
	fmt.Fprintln(&t, "| | bytes written per renewal | at one renewal per 30 s | WAL max | database file |")
	fmt.Fprintln(&t, "|---|---|---|---|---|")
	for _, r := range results {
		fmt.Fprintf(&t, "| %s | %.0f | %.0f B/s | %d kB | %d kB |\n", r.name, r.perRenewal, r.perRenewal/30, r.walMax/1000, r.end/1000)
	}
	b.Log("\n" + t.String())
	appendTable(b, t.Bytes())
}

// renew updates the Lease as the apiserver does, if it is still at the
// revision read, and returns the revision of the update.
func renew(b *testing.B, cli *clientv3.Client, value string) int64 {
	ctx := context.Background()
	got, err := cli.Get(ctx, leaseKey)
	if err != nil || len(got.Kvs) != 1 {
		b.Fatalf("get %s: %v %v", leaseKey, got, err)
	}
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(leaseKey), "=", got.Kvs[0].ModRevision)).
		Then(clientv3.OpPut(leaseKey, value)).Else(clientv3.OpGet(leaseKey)).Commit()
	if err != nil || !resp.Succeeded {
		b.Fatalf("renew %s: %v %v", leaseKey, resp, err)
	}
	return resp.Header.Revision
}

// appendTable adds to the markdown file at $BENCH_TABLE, if set.
func appendTable(b *testing.B, table []byte) {
	path := os.Getenv("BENCH_TABLE")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(table); err != nil {
		b.Fatal(err)
	}
}
