package datastore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The embedded datastore polls SQLite only as a safety net, an external
// one as often as kine's default, for other servers' writes.
func TestPollInterval(t *testing.T) {
	for ep, want := range map[string]time.Duration{
		"sqlite:///var/lib/edgeos/server/db/state.db?" + SQLiteParams: pollEmbedded,
		"postgres://edgeos:secret@10.0.0.5:5432/edgeos":               pollExternal,
		"mysql://edgeos:secret@tcp(10.0.0.5:3306)/edgeos":             pollExternal,
	} {
		if got := (Config{}).driver(ep).PollInterval; got != want {
			t.Errorf("%s: poll every %v, want %v", redact(ep), got, want)
		}
	}
	if pollEmbedded <= pollExternal {
		t.Errorf("the embedded datastore polls every %v, no less often than an external one (%v)", pollEmbedded, pollExternal)
	}
}

// On the embedded datastore a watch sees each write (creates, updates and
// deletes, in the apiserver's transactions, through the one-writer queue)
// without the poll: here the poll would come after an hour, and the test's
// deadline is a minute.
func TestWatchWithoutPoll(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{}.driver("sqlite://" + filepath.Join(dir, "state.db") + "?" + SQLiteParams)
	cfg.PollInterval = time.Hour
	k, err := listen(cfg, api{Socket: filepath.Join(dir, "kine.sock"), NotifyInterval: 5 * time.Second, EtcdVersion: "3.6.11", OneWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: k.endpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const key = "/registry/configmaps/default/watched"
	// the revision to watch from: one write before the watch
	first, err := cli.Put(ctx, "/registry/configmaps/default/before", "x")
	if err != nil {
		t.Fatal(err)
	}
	events := cli.Watch(ctx, key, clientv3.WithRev(first.Header.Revision+1))

	create, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).Then(clientv3.OpPut(key, "v1")).Commit()
	if err != nil || !create.Succeeded {
		t.Fatalf("create: %v %v", create, err)
	}
	rev := create.Header.Revision
	update, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpPut(key, "v2")).Else(clientv3.OpGet(key)).Commit()
	if err != nil || !update.Succeeded {
		t.Fatalf("update: %v %v", update, err)
	}
	rev = update.Header.Revision
	del, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
	if err != nil || !del.Succeeded {
		t.Fatalf("delete: %v %v", del, err)
	}

	type seen struct {
		typ   mvccpb.Event_EventType
		value string
	}
	want := []seen{{mvccpb.PUT, "v1"}, {mvccpb.PUT, "v2"}, {mvccpb.DELETE, ""}}
	var got []seen
	for len(got) < len(want) {
		select {
		case resp, ok := <-events:
			if !ok || resp.Err() != nil {
				t.Fatalf("watch ended after %v: %v", got, resp.Err())
			}
			for _, ev := range resp.Events {
				got = append(got, seen{ev.Type, string(ev.Kv.Value)})
			}
		case <-ctx.Done():
			t.Fatalf("after a minute the watch saw %v of %v: writes wait for the poll", got, want)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("watch saw %v, want %v", got, want)
		}
	}
}
