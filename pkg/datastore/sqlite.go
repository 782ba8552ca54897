package datastore

import (
	"database/sql"
	"errors"
	"fmt"
	"os"

	// the SQLite driver kine uses, registered as "sqlite3"
	_ "github.com/mattn/go-sqlite3"
)

// PageSize is the SQLite page size of a database edgeos creates. SQLite's
// default is 4 KiB; every kine write (a row and its four index entries)
// touches several pages, each written once to the WAL and once more at the
// checkpoint, so smaller pages mean fewer bytes written per write on flash.
const PageSize = 1024

// compactCheckpointOff is the kine connection option that skips its WAL
// checkpoint (FULL) after each compaction. SQLite still checkpoints once
// the WAL holds 1000 pages, which bounds it; checkpointing after every
// compaction as well (every 5 minutes once the database holds more than
// the 1000 revisions kine keeps) wrote the same hot pages of the database
// file again each time: without it, an idle node writes 53-58 kB per node
// Lease renewal instead of 66-71 kB (bench/datastore.sh). The option also
// skips kine's checkpoint at start, which truncateWAL does instead.
const compactCheckpointOff = "_kine_disable_compact_wal_checkpoint"

// truncateWAL checkpoints the WAL of the database at path into it and
// truncates the WAL to nothing, before kine opens the database: after a
// crash, or a transaction that outgrew SQLite's checkpoint, the WAL file
// keeps its size until then. After a clean stop there is no WAL (the last
// connection to close checkpoints and removes it), and opening the
// database only to find that out doubled what a restart writes (33 → 66
// kB, bench/datastore.sh).
func truncateWAL(path string) error {
	if st, err := os.Stat(path + "-wal"); errors.Is(err, os.ErrNotExist) || err == nil && st.Size() == 0 {
		return nil
	}
	db, err := openBeside(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpointing %s: %w", path, err)
	}
	return nil
}

// openBeside opens the database at path on a connection of edgeos's own,
// beside kine's, which waits for theirs (SQLite's busy timeout) instead of
// failing.
func openBeside(path string) (*sql.DB, error) {
	return sql.Open("sqlite3", "file:"+path+"?_busy_timeout=30000")
}

// createSQLite makes a new, empty database file at path with PageSize
// pages in WAL mode, for kine to create its tables in. The page size of a
// WAL database is fixed once it exists, so an existing file is left as it
// is.
func createSQLite(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{fmt.Sprintf("PRAGMA page_size = %d", PageSize), "VACUUM", "PRAGMA journal_mode = WAL"} {
		if _, err := db.Exec(stmt); err != nil {
			os.Remove(path)
			return fmt.Errorf("creating %s: %s: %w", path, stmt, err)
		}
	}
	return os.Chmod(path, 0o600)
}
