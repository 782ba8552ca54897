package logforward

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func numbered(from, to int) []Entry {
	var out []Entry
	for i := from; i < to; i++ {
		out = append(out, Entry{Time: int64(i), Source: Source{Namespace: "ns", Pod: "p", UID: "u", Container: "c"}, Stream: "stdout",
			Line: fmt.Sprintf("line %06d with some text to make it longer", i)})
	}
	return out
}

// drain peeks and acks everything the spool holds.
func drain(t *testing.T, s *spool) []Entry {
	t.Helper()
	var got []Entry
	for {
		b, err := s.Peek(7, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.entries) == 0 {
			return got
		}
		got = append(got, b.entries...)
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
	}
}

func lineNumbers(t *testing.T, es []Entry) []int {
	t.Helper()
	var out []int
	for _, e := range es {
		var n int
		if _, err := fmt.Sscanf(e.Line, "line %d", &n); err != nil {
			t.Fatalf("line %q", e.Line)
		}
		out = append(out, n)
	}
	return out
}

func checkRun(t *testing.T, got []int, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("got %d lines, want %d..%d", len(got), from, to-1)
	}
	for i, n := range got {
		if n != from+i {
			t.Fatalf("line %d is %d, want %d", i, n, from+i)
		}
	}
}

// Lines sent are not sent again after a restart; lines not sent are, in
// order; segments wholly sent are removed.
func TestSpoolAckAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.segMax = 512 // many segments
	if err := s.Append(numbered(0, 100)); err != nil {
		t.Fatal(err)
	}
	b, err := s.Peek(30, 1<<20)
	if err != nil || len(b.entries) != 30 {
		t.Fatalf("peek: %d, %v", len(b.entries), err)
	}
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	b, _ = s.Peek(10, 1<<20) // read, not acked: sent again after the restart
	if lineNumbers(t, b.entries)[0] != 30 {
		t.Fatalf("peek after ack starts at %q", b.entries[0].Line)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	s, err = openSpool(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(numbered(100, 120)); err != nil {
		t.Fatal(err)
	}
	checkRun(t, lineNumbers(t, drain(t, s)), 30, 120)
	after, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(after) != 1 || len(segs) < 3 {
		t.Errorf("%d segments before, %d once all is sent; want several, then only the one appended to", len(segs), len(after))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openSpool(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s); len(got) != 0 {
		t.Errorf("%d lines sent again after a restart", len(got))
	}
	s.Close()
}

// Past the cap the oldest unsent lines go, and are counted; the newest
// stay, in order.
func TestSpoolCap(t *testing.T) {
	dir := t.TempDir()
	dropped := 0
	s, err := openSpool(dir, 8<<10, func(n int) { dropped += n })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i += 50 {
		if err := s.Append(numbered(i, i+50)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Size() > 8<<10+s.segMax {
		t.Errorf("spool holds %d bytes, cap %d", s.Size(), 8<<10)
	}
	got := lineNumbers(t, drain(t, s))
	if len(got) == 0 || dropped == 0 {
		t.Fatalf("%d kept, %d dropped", len(got), dropped)
	}
	checkRun(t, got, 1000-len(got), 1000)
	if dropped+len(got) != 1000 {
		t.Errorf("%d dropped and %d kept of 1000", dropped, len(got))
	}
	s.Close()
}

// Lines already sent are not counted as dropped when the cap removes
// their segment.
func TestSpoolCapCountsUnsentOnly(t *testing.T) {
	dropped := 0
	s, err := openSpool(t.TempDir(), 8<<10, func(n int) { dropped += n })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(numbered(0, 10)); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Peek(4, 1<<20)
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 1010; i += 50 {
		if err := s.Append(numbered(i, i+50)); err != nil {
			t.Fatal(err)
		}
	}
	got := lineNumbers(t, drain(t, s))
	if dropped+len(got) != 1006 {
		t.Errorf("%d dropped and %d kept of 1006 unsent", dropped, len(got))
	}
	s.Close()
}

// A record torn by a power cut is cut off; what came before stays and
// appending goes on after it.
func TestSpoolTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(numbered(0, 5)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	whole := encodeRecord(nil, numbered(5, 6)[0])
	if _, err := f.Write(whole[:len(whole)-3]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err = openSpool(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(numbered(6, 8)); err != nil {
		t.Fatal(err)
	}
	got := lineNumbers(t, drain(t, s))
	want := []int{0, 1, 2, 3, 4, 6, 7}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	s.Close()
}

// A damaged acked file costs lines sent twice, not lines lost.
func TestSpoolDamagedAcked(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSpool(dir, 1<<20, nil)
	if err := s.Append(numbered(0, 5)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, ackedFile), []byte("zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openSpool(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, lineNumbers(t, drain(t, s)), 0, 5)
	s.Close()
}

func TestRecordRoundTrip(t *testing.T) {
	e := Entry{Time: -5, Source: Source{Namespace: "a", Pod: "b", UID: "c", Container: "d"}, Stream: "stderr", Line: "x\x00y" + strconv.Itoa(7)}
	var got Entry
	rec := encodeRecord(nil, e)
	// the payload after the length and the checksum
	if err := got.decode(rec[1+4:]); err != nil || got != e {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := got.decode(rec[1+4 : len(rec)-1]); err == nil {
		t.Error("a short payload decoded")
	}
}
