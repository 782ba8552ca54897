package datastore

import (
	"context"
	"sync"

	"github.com/k3s-io/kine/pkg/server"
)

// oneWriter queues the writes into the embedded SQLite in Go, one at a
// time. SQLite lets one writer in at a time anyway; a writer that finds
// the database taken sleeps in SQLite's busy handler, in steps growing to
// 100 ms, and tries again, so in a burst of writes (a Deployment's pods
// created) some wait seconds while the database is free most of that
// time. A Go lock hands the turn to the next writer as soon as the last
// one commits. kine's own writes (compaction, expired leases) still meet
// SQLite's lock: they are few, and compaction's batches must not hold up
// the apiserver's writes for their whole run.
type oneWriter struct {
	server.Backend
	mu sync.Mutex
}

func (w *oneWriter) Create(ctx context.Context, key string, value []byte, lease int64) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Backend.Create(ctx, key, value, lease)
}

func (w *oneWriter) Update(ctx context.Context, key string, value []byte, revision, lease int64) (int64, *server.KeyValue, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Backend.Update(ctx, key, value, revision, lease)
}

func (w *oneWriter) Delete(ctx context.Context, key string, revision int64) (int64, *server.KeyValue, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Backend.Delete(ctx, key, revision)
}
