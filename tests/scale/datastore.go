package scale

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Datastore is what kine's table in the embedded SQLite file holds: its
// rows, the latest revision, the revision it was last compacted to (0
// before any compaction), and how many rows at or below that revision a
// later one there replaced (what a finished compaction leaves none of).
type Datastore struct {
	Rows, Revision, Compacted, Superseded int64
}

// ReadDatastore reads the table with Debian's sqlite3, read-only beside the
// running server (WAL mode lets a reader in while it writes).
func ReadDatastore(tb testing.TB, db string) Datastore {
	tb.Helper()
	const query = `WITH c(rev) AS (SELECT COALESCE(MAX(prev_revision), 0) FROM kine WHERE name = 'compact_rev_key')
SELECT (SELECT COUNT(*) FROM kine), (SELECT COALESCE(MAX(id), 0) FROM kine), (SELECT rev FROM c),
  (SELECT COUNT(*) FROM kine k, c WHERE k.id <= c.rev AND k.name != 'compact_rev_key' AND
    EXISTS (SELECT 1 FROM kine n WHERE n.prev_revision = k.id AND n.name = k.name AND n.id <= c.rev));`
	out, err := exec.Command("sqlite3", "-readonly", "-cmd", ".timeout 30000", db, query).CombinedOutput()
	if err != nil {
		tb.Fatalf("sqlite3 %s: %v: %s", db, err, out)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "|")
	if len(f) != 4 {
		tb.Fatalf("sqlite3 %s: %q", db, out)
	}
	var v [4]int64
	for i, s := range f {
		if v[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			tb.Fatalf("sqlite3 %s: %q", db, out)
		}
	}
	return Datastore{Rows: v[0], Revision: v[1], Compacted: v[2], Superseded: v[3]}
}

func (d Datastore) String() string {
	return fmt.Sprintf("%d rows, revision %d, compacted to %d (%d replaced rows left below it)", d.Rows, d.Revision, d.Compacted, d.Superseded)
}
