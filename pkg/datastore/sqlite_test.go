package datastore

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := createSQLite(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", st, err)
	}
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var size int
	var mode string
	if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil || size != PageSize {
		t.Errorf("page size %d %v", size, err)
	}
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q %v", mode, err)
	}
	// a table written now keeps the page size
	if _, err := db.Exec("CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB); INSERT INTO kv VALUES ('a', zeroblob(5000))"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// an existing database is left as it is
	before, _ := os.ReadFile(path)
	if err := createSQLite(path); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("an existing database was changed")
	}
}

// TestTruncateWAL leaves frames in a database's WAL, as a crash would, and
// checks that truncateWAL moves them into the database and empties it.
func TestTruncateWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := createSQLite(path); err != nil {
		t.Fatal(err)
	}
	// an open connection keeps SQLite from checkpointing at close
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{"CREATE TABLE kv(v BLOB)", "INSERT INTO kv SELECT randomblob(1024) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3)"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	wal := path + "-wal"
	if n := size(t, wal); n == 0 {
		t.Fatal("no frames in the WAL to begin with")
	}
	if err := truncateWAL(path); err != nil {
		t.Fatal(err)
	}
	if n := size(t, wal); n != 0 {
		t.Fatalf("WAL is %d bytes after truncateWAL", n)
	}
	var rows int
	if err := db.QueryRow("SELECT count(*) FROM kv").Scan(&rows); err != nil || rows != 3 {
		t.Fatalf("%d rows, %v", rows, err)
	}
}
