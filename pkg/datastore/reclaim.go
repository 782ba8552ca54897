package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// Giving space back to the file system. Compaction (the apiserver's, every
// 5 minutes) deletes old revisions; their pages go on SQLite's free list,
// where later writes reuse them, but the file never shrinks. kine's own
// answer is a VACUUM at every start, which rewrites the whole database,
// twice through the WAL, on every restart however little is free: on an SD
// card that is the biggest single write a node makes. edgeos turns it off
// (startupVacuumOff) and VACUUMs while running, only once the free pages are
// worth a rewrite: after a burst of objects came and went, not after a
// restart.

// ReclaimPolicy says when the embedded database is VACUUMed.
type ReclaimPolicy struct {
	// Interval between looks at the free list (two header reads).
	Interval time.Duration
	// MinFreeBytes and MinFreeFraction (of the file) must both be passed:
	// a VACUUM rewrites what is live, so it waits until what it frees is a
	// good part of the file, and not a trifle of a small one.
	MinFreeBytes    int64
	MinFreeFraction float64
}

// DefaultReclaimPolicy looks every 5 minutes, as often as the apiserver
// compacts, and VACUUMs once 8 MiB and a quarter of the file are free: the
// rewrite then costs at most three times what it frees.
func DefaultReclaimPolicy() ReclaimPolicy {
	return ReclaimPolicy{Interval: 5 * time.Minute, MinFreeBytes: 8 << 20, MinFreeFraction: 0.25}
}

// startupVacuumOff is the kine connection option that skips its VACUUM at
// start.
const startupVacuumOff = "_kine_disable_startup_vacuum"

// FreeSpace is what SQLite's header says of a database file.
type FreeSpace struct {
	Pages, FreePages, PageSize int64
}

// FreeBytes is the size of the free list.
func (f FreeSpace) FreeBytes() int64 { return f.FreePages * f.PageSize }

// due reports whether the free pages are worth a VACUUM.
func (p ReclaimPolicy) due(f FreeSpace) bool {
	return f.Pages > 0 && f.FreeBytes() >= p.MinFreeBytes &&
		float64(f.FreePages) >= p.MinFreeFraction*float64(f.Pages)
}

func readFreeSpace(ctx context.Context, db *sql.DB) (FreeSpace, error) {
	var f FreeSpace
	err := db.QueryRowContext(ctx,
		"SELECT page_count, freelist_count, page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()").
		Scan(&f.Pages, &f.FreePages, &f.PageSize)
	return f, err
}

// Reclaim VACUUMs the SQLite database at path if p says its free pages are
// worth it, and reports what it found before. It runs beside kine on a
// connection of its own: kine's writes wait for the VACUUM (the busy
// timeout), its reads go on from the WAL.
func Reclaim(ctx context.Context, path string, p ReclaimPolicy) (before FreeSpace, vacuumed bool, err error) {
	db, err := openBeside(path)
	if err != nil {
		return before, false, err
	}
	defer db.Close()
	if before, err = readFreeSpace(ctx, db); err != nil || !p.due(before) {
		return before, false, err
	}
	// VACUUM writes the new database into the WAL; the checkpoint copies
	// it over the old file, which shrinks, and empties the WAL again.
	for _, stmt := range []string{"VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return before, false, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return before, true, nil
}

// reclaimLoop runs Reclaim on the embedded database every p.Interval
// until ctx ends. A failure is logged and tried again next time: the
// database is intact, only bigger than it needs to be.
func reclaimLoop(ctx context.Context, path string, p ReclaimPolicy) {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before, vacuumed, err := Reclaim(ctx, path, p)
		switch {
		case err != nil && ctx.Err() == nil:
			logrus.Warnf("Datastore: VACUUM of %s: %v", path, err)
		case vacuumed:
			logrus.Infof("Datastore: VACUUM of %s gave back %d of its %d KiB", path,
				before.FreeBytes()>>10, (before.Pages*before.PageSize)>>10)
		}
	}
}
