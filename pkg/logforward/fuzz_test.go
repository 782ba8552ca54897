package logforward

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A spool segment damaged in any way (a disk that changed it, a file put
// there) is read up to its damage and cut there: no panic, no record
// that was not written whole.
func FuzzSpoolSegment(f *testing.F) {
	var good []byte
	for _, e := range numbered(0, 3) {
		good = encodeRecord(good, e)
	}
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		whole := 0
		for {
			e, n, err := readRecord(br)
			if err != nil {
				break // the end, or the damage
			}
			if n <= 0 || len(e.Line) > n {
				t.Fatalf("record of %d bytes holds a line of %d", n, len(e.Line))
			}
			whole += n
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0000000000000000"+segSuffix), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openSpool(dir, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b, err := s.Peek(1<<20, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if b.next.off > int64(whole) && !b.skipped {
			t.Fatalf("read to %d, but only %d bytes are whole records", b.next.off, whole)
		}
	})
}
