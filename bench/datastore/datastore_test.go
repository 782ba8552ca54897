// Package datastore measures what the embedded datastore writes to disk
// when a server starts and when it gives free pages back: kine's VACUUM at
// every start against edgeos's VACUUM once the free pages are worth it
// (pkg/datastore's ReclaimPolicy); and, in renewals_test.go, what an idle
// node writes per node Lease renewal. Run by bench/datastore.sh; each
// benchmark adds a markdown table to $BENCH_TABLE when that is set.
//
// Bytes written are the process's write_bytes in /proc/self/io: what it
// dirtied in the page cache for the disk, WAL and database file alike.
package datastore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k3s-io/kine/pkg/endpoint"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/edgeos/edgeos/pkg/component/componenttest"
	"github.com/edgeos/edgeos/pkg/datastore"
)

// Live objects of a small cluster, and a burst that comes and goes.
const (
	liveObjects  = 3000
	burstObjects = 6000
	objectSize   = 2048
)

func BenchmarkDatastoreWrites(b *testing.B) {
	dir := b.TempDir()
	db := filepath.Join(dir, "state.db")
	value := strings.Repeat("x", objectSize)

	// edgeos's datastore, as a server runs it: fill it, let a burst come
	// and go, compact as the apiserver does, stop.
	cli, stop := runEdgeos(b, dir)
	put(b, cli, "live", liveObjects, value)
	churn(b, cli, value)
	stop()

	// a restart as edgeos makes it (no VACUUM), then as kine makes it by
	// default, on the same file
	fileBefore := fileSize(b, db)
	restart := measure(b, func() func() { _, stop := runEdgeos(b, dir); return stop })
	fileEdgeos := fileSize(b, db)
	restartKine := measure(b, runKineDefault(b, dir))
	fileKine := fileSize(b, db)
	// and again, with nothing left to free
	restartKineAgain := measure(b, runKineDefault(b, dir))

	// the same churn again, then edgeos's VACUUM once due
	cli, stop = runEdgeos(b, dir)
	churn(b, cli, value)
	stop()
	fileChurned := fileSize(b, db)
	var churnFree datastore.FreeSpace
	var vacuumed bool
	reclaim := measure(b, func() func() {
		var err error
		churnFree, vacuumed, err = datastore.Reclaim(context.Background(), db, datastore.DefaultReclaimPolicy())
		if err != nil {
			b.Fatal(err)
		}
		return func() {}
	})
	if !vacuumed {
		b.Fatalf("no VACUUM with %d of %d KiB free", churnFree.FreeBytes()>>10, churnFree.Pages*churnFree.PageSize>>10)
	}
	fileReclaimed := fileSize(b, db)

	mb := func(n int64) string {
		if n < 1e6 {
			return strconv.FormatFloat(float64(n)/1e3, 'f', 0, 64) + " kB"
		}
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	}
	var t bytes.Buffer
	fmt.Fprintf(&t, "%d live objects of %d bytes, bursts of %d created, deleted and compacted away; database file %s with %d KiB pages.\n\n",
		liveObjects, objectSize, burstObjects, mb(fileBefore), churnFree.PageSize>>10)
	fmt.Fprintln(&t, "| | bytes written | database file |")
	fmt.Fprintln(&t, "|---|---|---|")
	fmt.Fprintf(&t, "| restart, edgeos (no startup VACUUM) | %s | %s |\n", mb(restart), mb(fileEdgeos))
	fmt.Fprintf(&t, "| restart, kine's default (VACUUM at every start) | %s | %s |\n", mb(restartKine), mb(fileKine))
	fmt.Fprintf(&t, "| restart, kine's default, again (nothing free) | %s | %s |\n", mb(restartKineAgain), mb(fileKine))
	fmt.Fprintf(&t, "| edgeos VACUUM once due (%s free of %s) | %s | %s → %s |\n",
		mb(churnFree.FreeBytes()), mb(churnFree.Pages*churnFree.PageSize), mb(reclaim), mb(fileChurned), mb(fileReclaimed))
	b.Log("\n" + t.String())
	appendTable(b, t.Bytes())
}

// measure reports the bytes this process wrote while start ran and the
// function it returned (a stop) ran after it.
func measure(b *testing.B, start func() func()) int64 {
	before := writeBytes(b)
	start()()
	return writeBytes(b) - before
}

func writeBytes(b *testing.B) int64 {
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no write_bytes in /proc/self/io")
	return 0
}

func fileSize(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// runEdgeos runs edgeos's datastore on dir until it is ready; stop ends
// it and waits.
func runEdgeos(b *testing.B, dir string) (*clientv3.Client, func()) {
	stop := componenttest.Run(b, datastore.New(datastore.Config{Dir: dir}))
	cli, stopCli := client(b, dir)
	return cli, func() {
		stopCli()
		stop()
	}
}

// runKineDefault returns a start of kine on dir's file with kine's own
// defaults, and so its startup VACUUM; the start returns a stop.
func runKineDefault(b *testing.B, dir string) func() func() {
	return func() func() { return startKine(b, dir) }
}

func startKine(b *testing.B, dir string) func() {
	return startKineWith(b, dir, datastore.SQLiteParams, 5*time.Minute)
}

// startKineWith starts kine on dir's file with these connection
// parameters and its own compaction every compactInterval (0: only when a
// client asks, as edgeos runs it), its other settings kine's defaults.
func startKineWith(b *testing.B, dir, params string, compactInterval time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	_, err := endpoint.Listen(ctx, endpoint.Config{
		Endpoint:  "sqlite://" + filepath.Join(dir, "state.db") + "?" + params,
		Listener:  "unix://" + filepath.Join(dir, "kine.sock"),
		WaitGroup: wg,
		// kine's command-line defaults
		CompactInterval:  compactInterval,
		CompactTimeout:   5 * time.Second,
		CompactMinRetain: 1000,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
		PollInterval:     time.Second,
		NotifyInterval:   5 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	return func() { cancel(); wg.Wait() }
}

func client(b *testing.B, dir string) (*clientv3.Client, func()) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"unix://" + filepath.Join(dir, "kine.sock")},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	return cli, func() { cli.Close() }
}

// churn creates burstObjects objects, deletes them and compacts.
func churn(b *testing.B, cli *clientv3.Client, value string) {
	put(b, cli, "burst", burstObjects, value)
	for i := range burstObjects {
		key := fmt.Sprintf("/registry/configmaps/burst/%d", i)
		got, err := cli.Get(context.Background(), key)
		if err != nil || len(got.Kvs) != 1 {
			b.Fatalf("get %s: %v %v", key, got, err)
		}
		// as the apiserver deletes: if the object is still at the revision read
		resp, err := cli.Txn(context.Background()).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", got.Kvs[0].ModRevision)).
			Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			b.Fatal(err)
		}
		if !resp.Succeeded {
			b.Fatalf("delete %s: %v", key, resp)
		}
	}
	compact(b, cli)
}

func put(b *testing.B, cli *clientv3.Client, prefix string, n int, value string) {
	for i := range n {
		if _, err := cli.Put(context.Background(), fmt.Sprintf("/registry/configmaps/%s/%d", prefix, i), value); err != nil {
			b.Fatal(err)
		}
	}
}

// compact drops every revision but the latest, as the apiserver's
// compaction does every 5 minutes.
func compact(b *testing.B, cli *clientv3.Client) {
	resp, err := cli.Get(context.Background(), "compact")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cli.Compact(context.Background(), resp.Header.Revision); err != nil {
		b.Fatal(err)
	}
}
