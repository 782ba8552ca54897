package datastore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// fill makes a database with a table of n rows of 1 KiB and deletes the
// first del of them, leaving their pages free.
func fill(t *testing.T, path string, n, del int) *sql.DB {
	t.Helper()
	if err := createSQLite(path); err != nil {
		t.Fatal(err)
	}
	db, err := openBeside(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range []string{
		"CREATE TABLE kv(id INTEGER PRIMARY KEY, v BLOB)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?) INSERT INTO kv SELECT i, randomblob(1024) FROM n",
		"DELETE FROM kv WHERE id <= ?",
		"PRAGMA wal_checkpoint(TRUNCATE)",
	} {
		var args []any
		switch stmt[0] {
		case 'W':
			args = []any{n}
		case 'D':
			args = []any{del}
		}
		if _, err := db.Exec(stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return db
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestReclaimWhenDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	// 4000 rows of 1 KiB, 3000 deleted: about 3.3 of 4.4 MiB free
	db := fill(t, path, 4000, 3000)
	grown := size(t, path)
	p := ReclaimPolicy{MinFreeBytes: 1 << 20, MinFreeFraction: 0.25}
	before, vacuumed, err := Reclaim(context.Background(), path, p)
	if err != nil || !vacuumed {
		t.Fatalf("vacuumed %v: %v", vacuumed, err)
	}
	if before.FreeBytes() < 3000*1024 || before.Pages*before.PageSize != grown {
		t.Errorf("before the VACUUM: %+v, file %d bytes", before, grown)
	}
	if after := size(t, path); after > grown-3000*1024 {
		t.Errorf("file %d → %d bytes: the free pages were not given back", grown, after)
	}
	// the rows kept are intact, and a connection open all along still works
	var rows, bytes int
	if err := db.QueryRow("SELECT count(*), sum(length(v)) FROM kv").Scan(&rows, &bytes); err != nil || rows != 1000 || bytes != 1000*1024 {
		t.Errorf("after the VACUUM: %d rows, %d bytes, %v", rows, bytes, err)
	}
	if _, err := db.Exec("INSERT INTO kv VALUES (5000, x'00')"); err != nil {
		t.Error(err)
	}
	if got, err := readFreeSpace(context.Background(), db); err != nil || got.FreePages != 0 {
		t.Errorf("free pages after the VACUUM: %+v %v", got, err)
	}
}

func TestReclaimWaitsForThePolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	fill(t, path, 4000, 3000)
	grown := size(t, path)
	for _, p := range []ReclaimPolicy{
		{MinFreeBytes: 8 << 20, MinFreeFraction: 0.25}, // 3.3 MiB free: too little
		{MinFreeBytes: 1 << 20, MinFreeFraction: 0.9},  // three quarters of the file: too small a part
	} {
		before, vacuumed, err := Reclaim(context.Background(), path, p)
		if err != nil || vacuumed {
			t.Errorf("%+v: vacuumed %v: %v", p, vacuumed, err)
		}
		t.Logf("%+v: %d of %d KiB free", p, before.FreeBytes()>>10, before.Pages*before.PageSize>>10)
		if before.FreePages == 0 {
			t.Errorf("%+v: no free pages seen: %+v", p, before)
		}
		if after := size(t, path); after != grown {
			t.Errorf("%+v: file %d → %d bytes", p, grown, after)
		}
	}
}

func TestDefaultReclaimPolicy(t *testing.T) {
	p := DefaultReclaimPolicy()
	mib := int64(1 << 20)
	for _, c := range []struct {
		f   FreeSpace
		due bool
	}{
		{FreeSpace{Pages: 0, PageSize: 1024}, false},
		{FreeSpace{Pages: 64 * 1024, FreePages: 7 * 1024, PageSize: 1024}, false},     // 7 of 64 MiB
		{FreeSpace{Pages: 64 * 1024, FreePages: 15 * 1024, PageSize: 1024}, false},    // 15 of 64 MiB: under a quarter
		{FreeSpace{Pages: 64 * 1024, FreePages: 16 * 1024, PageSize: 1024}, true},     // 16 of 64 MiB
		{FreeSpace{Pages: 10 * 1024, FreePages: 8 * 1024, PageSize: 1024}, true},      // 8 of 10 MiB
		{FreeSpace{Pages: 10 * 256, FreePages: 7 * 256, PageSize: 4096}, false},       // 7 of 10 MiB
		{FreeSpace{Pages: 1024 * 1024, FreePages: 200 * 1024, PageSize: 1024}, false}, // 200 MiB of 1 GiB
	} {
		if got := p.due(c.f); got != c.due {
			t.Errorf("%+v (%d MiB free): due %v, want %v", c.f, c.f.FreeBytes()/mib, got, c.due)
		}
	}
}
