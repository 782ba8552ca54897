package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// server makes a data dir with a WAL database, a tls dir, a token.
func server(t *testing.T) Server {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "server")
	s := Server{
		Dir: dir, Files: []string{"tls", "cred/encryption-config.json", "token"},
		DB: filepath.Join(dir, "db", "state.db"), Snapshots: filepath.Join(dir, "db", "snapshots"), NodeName: "edge-1",
	}
	for name, data := range map[string]string{"tls/server-ca.crt": "ca", "tls/server-ca.key": "key", "token": "K10abc::server:s3cret", "cred/encryption-config.json": "{}"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(s.DB), 0o700); err != nil {
		t.Fatal(err)
	}
	db := open(t, s.DB)
	if _, err := db.Exec("PRAGMA journal_mode=WAL; CREATE TABLE kine (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=30000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rows(t *testing.T, path string) (ids []int) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.Query("SELECT id FROM kine ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var id int
		if err := r.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestSaveWhileWritingThenRestore: a snapshot taken while rows go in one
// after another holds a prefix of them, all before the save began and
// none after it ended; a restore brings back exactly that, with the files,
// and keeps what it replaced.
func TestSaveWhileWritingThenRestore(t *testing.T) {
	s := server(t)
	db := open(t, s.DB)
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.Exec("INSERT INTO kine (id, v) VALUES (?, ?)", i, strings.Repeat("x", 200)); err != nil {
				t.Error(err)
				return
			}
			written.Store(int64(i))
		}
	})
	for written.Load() < 200 {
		time.Sleep(10 * time.Millisecond)
	}
	before := written.Load()
	path, err := Save(s, OnDemand, "server:s3cret", time.Now())
	after := written.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", err, st)
	}
	if _, err := db.Exec("INSERT INTO kine (id, v) VALUES (?, 'after')", 1_000_000); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "token"), []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if _, err := Restore(s, path, "server:wrong", time.Now()); err == nil || !strings.Contains(err.Error(), "another token") {
		t.Fatalf("restore with another token: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "token")); string(b) != "changed" {
		t.Fatal("a refused restore changed the data dir")
	}
	aside, err := Restore(s, path, "server:s3cret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ids := rows(t, s.DB)
	for i, id := range ids {
		if id != i+1 {
			t.Fatalf("restored rows are not a prefix of the writes: row %d is %d", i, id)
		}
	}
	if n := int64(len(ids)); n < before || n > after {
		t.Fatalf("restored %d rows; %d were written before the save began, %d when it ended", n, before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "token")); string(b) != "K10abc::server:s3cret" {
		t.Fatalf("token not restored: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "tls", "server-ca.key")); string(b) != "key" {
		t.Fatal("tls not restored")
	}
	if len(aside) < 3 {
		t.Fatalf("kept aside %v", aside)
	}
	for _, a := range aside {
		if _, err := os.Stat(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}

func TestListPruneDelete(t *testing.T) {
	s := server(t)
	base := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		if _, err := Save(s, Scheduled, "c", base.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	demand, err := Save(s, OnDemand, "c", base)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := Prune(s.Snapshots, "edge-1", 2)
	if err != nil || len(gone) != 2 || !strings.Contains(gone[0], "T000000Z") || !strings.Contains(gone[1], "T010000Z") {
		t.Fatalf("prune kept the wrong ones: %v %v", gone, err)
	}
	l, err := List(s.Snapshots)
	if err != nil || len(l) != 3 {
		t.Fatalf("list: %+v %v", l, err)
	}
	if l[0].Kind != OnDemand || l[0].Node != "edge-1" || l[0].Path != demand {
		t.Fatalf("oldest: %+v", l[0])
	}
	if err := Delete(s.Snapshots, "../state.db"); err == nil {
		t.Fatal("deleted a path that is not a snapshot name")
	}
	if err := Delete(s.Snapshots, l[0].Name); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreRefusesHostileArchives: entries that climb out, links, files
// a snapshot does not hold, and garbage are refused before anything moves.
func TestRestoreRefusesHostileArchives(t *testing.T) {
	s := server(t)
	hdr := fmt.Sprintf(`{"version":1,"node":"x","tokenHash":%q}`, TokenHash("c"))
	for name, entries := range map[string][]tar.Header{
		"dotdot":  {{Name: "server/../../escape", Typeflag: tar.TypeReg}},
		"link":    {{Name: "server/tls/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}},
		"foreign": {{Name: "server/etc/passwd", Typeflag: tar.TypeReg}},
		"abs":     {{Name: "/tmp/x", Typeflag: tar.TypeReg}},
		"no db":   {{Name: "server/token", Typeflag: tar.TypeReg}},
	} {
		var buf bytes.Buffer
		zw, _ := zstd.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: headerName, Typeflag: tar.TypeReg, Size: int64(len(hdr)), Mode: 0o600})
		tw.Write([]byte(hdr))
		for _, e := range entries {
			e.Mode = 0o600
			tw.WriteHeader(&e)
		}
		tw.Close()
		zw.Close()
		file := filepath.Join(t.TempDir(), "snap.tar.zst")
		os.WriteFile(file, buf.Bytes(), 0o600)
		if _, err := Restore(s, file, "c", time.Now()); err == nil {
			t.Errorf("%s: restored", name)
		}
		if _, err := os.Stat(s.DB); err != nil {
			t.Fatalf("%s: the database moved: %v", name, err)
		}
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, []byte("not a snapshot"), 0o600)
	if _, err := Restore(s, garbage, "c", time.Now()); err == nil {
		t.Error("garbage restored")
	}
}

func TestSchedulerKeepsRetention(t *testing.T) {
	s := server(t)
	sched, err := ParseSchedule("@every 1s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSchedule("every day"); err == nil {
		t.Fatal("a bad schedule was accepted")
	}
	sc := &Scheduler{Server: s, Schedule: sched, Retention: 2, Credential: "c"}
	start := time.Now().UTC().Truncate(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sc.Run(ctx, func() {}) }()
	deadline := time.After(time.Minute)
	for {
		// four saves at least: the newest is 3 s after the start
		l, _ := List(s.Snapshots)
		if len(l) > 0 && !l[len(l)-1].Time.Before(start.Add(3*time.Second)) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("snapshots: %+v", l)
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l, _ := List(s.Snapshots); len(l) != 2 {
		t.Fatalf("retention 2, %d kept: %+v", len(l), l)
	}
}
