// Command sqlite measures kine on embedded SQLite the way the apiserver uses
// it (create and update transactions, gets, prefix lists), to choose between
// kine's two SQLite drivers: mattn/go-sqlite3 (built with CGO_ENABLED=1) and
// modernc.org/sqlite (CGO_ENABLED=0). Run it through bench/sqlite.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/endpoint"
	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	n := flag.Int("n", 2000, "objects to create and update")
	lists := flag.Int("lists", 100, "prefix lists of all objects")
	flag.Parse()
	logrus.SetLevel(logrus.WarnLevel)

	dir, err := os.MkdirTemp("", "kinebench")
	check(err)
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	etcd, err := endpoint.Listen(ctx, endpoint.Config{
		Endpoint:            "sqlite://" + filepath.Join(dir, "state.db") + "?_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=20&cache=shared",
		Listener:            "unix://" + filepath.Join(dir, "kine.sock"),
		WaitGroup:           &sync.WaitGroup{},
		EmulatedETCDVersion: "3.6.11",
		CompactTimeout:      5 * time.Second,
		CompactMinRetain:    1000,
		CompactBatchSize:    1000,
		PollBatchSize:       500,
		PollInterval:        time.Second,
		NotifyInterval:      5 * time.Second,
	})
	check(err)
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints, DialTimeout: 5 * time.Second})
	check(err)
	defer cli.Close()

	value := []byte(strings.Repeat("x", 1024)) // about a small ConfigMap
	key := func(i int) string { return fmt.Sprintf("/registry/configmaps/bench/cm-%05d", i) }
	revs := make([]int64, *n)

	create := timed(*n, func(i int) {
		r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key(i)), "=", 0)).
			Then(clientv3.OpPut(key(i), string(value))).Commit()
		check(err)
		revs[i] = r.Header.Revision
	})
	update := timed(*n, func(i int) {
		r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key(i)), "=", revs[i])).
			Then(clientv3.OpPut(key(i), string(value))).Else(clientv3.OpGet(key(i))).Commit()
		check(err)
		if !r.Succeeded {
			panic("update conflict")
		}
	})
	get := timed(*n, func(i int) {
		_, err := cli.Get(ctx, key(i))
		check(err)
	})
	list := timed(*lists, func(int) {
		r, err := cli.Get(ctx, "/registry/configmaps/bench/", clientv3.WithPrefix())
		check(err)
		if len(r.Kvs) != *n {
			panic(fmt.Sprintf("list returned %d of %d", len(r.Kvs), *n))
		}
	})
	fmt.Printf("create  %s\nupdate  %s\nget     %s\nlist    %s (each lists %d objects)\n", create, update, get, list, *n)
	fmt.Printf("rss     %d MB (VmHWM %d MB)\n", status("VmRSS")/1024, status("VmHWM")/1024)
	st, err := os.Stat(filepath.Join(dir, "state.db"))
	check(err)
	fmt.Printf("db      %d kB\n", st.Size()/1024)
}

type stats struct {
	n        int
	total    time.Duration
	p50, p99 time.Duration
}

func (s stats) String() string {
	return fmt.Sprintf("%7.0f ops/s  p50 %6.2f ms  p99 %6.2f ms", float64(s.n)/s.total.Seconds(),
		float64(s.p50.Microseconds())/1000, float64(s.p99.Microseconds())/1000)
}

func timed(n int, op func(i int)) stats {
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		op(i)
		lat[i] = time.Since(t)
	}
	total := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	return stats{n: n, total: total, p50: lat[n/2], p99: lat[n*99/100]}
}

func status(field string) int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, field+":")), "%d", &kb)
			return kb
		}
	}
	return 0
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
