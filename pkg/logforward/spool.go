package logforward

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/edgeos/edgeos/pkg/atomicfile"
	"github.com/sirupsen/logrus"
)

// The spool is the disk buffer between the readers of logs and the
// sender: segment files of records, appended in order, flushed once per
// append, sent from the oldest. What the endpoint accepted is marked in a
// small file (acked); segments wholly behind it are removed. When the
// spool outgrows its cap, its oldest segments go, sent or not, and their
// unsent lines are counted as dropped.

const (
	segSuffix = ".seg"
	ackedFile = "acked"
	// minSegment and maxSegment bound a segment's size: small enough that
	// the cap drops a few lines at a time, large enough that a busy node
	// does not make a file a second.
	minSegment = 4 << 10
	maxSegment = 4 << 20
)

// cursor is a place in the spool: a segment and an offset in it.
type cursor struct {
	seq uint64
	off int64
}

type segment struct {
	seq   uint64
	size  int64
	lines int
}

// spool is safe for one appender and one reader at a time.
type spool struct {
	dir    string
	cap    int64
	segMax int64
	// dropped is told how many unsent lines the cap removed.
	dropped func(n int)

	mu    sync.Mutex
	segs  []segment // oldest first; the last is appended to
	w     *os.File  // the last segment, open for appending
	acked cursor
	// ackedLines is the count of records before acked.off in its segment
	ackedLines int
	notify     chan struct{}
}

// openSpool opens the spool in dir (made 0700 where missing), cutting a
// record torn by a crash off the end of the newest segment.
func openSpool(dir string, capBytes int64, dropped func(int)) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &spool{dir: dir, cap: capBytes, segMax: min(max(capBytes/8, minSegment), maxSegment), dropped: dropped, notify: make(chan struct{}, 1)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		s.segs = append(s.segs, segment{seq: seq})
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmp.Compare(a.seq, b.seq) })
	s.acked = readAcked(filepath.Join(dir, ackedFile))
	// segments wholly sent before the last stop
	if err := s.removeSent(); err != nil {
		return nil, err
	}
	for i := range s.segs {
		good, lines, err := scanSegment(s.path(s.segs[i].seq), s.ackedAt(s.segs[i].seq))
		if err != nil {
			return nil, err
		}
		s.segs[i].size, s.segs[i].lines = good.end, lines
		if s.segs[i].seq == s.acked.seq {
			s.ackedLines = good.before
		}
		if good.torn {
			if i < len(s.segs)-1 {
				// a crash tears only the newest; this is damage
				logrus.Warnf("Log forwarding: spool segment %s is damaged after byte %d; its other lines are lost", s.path(s.segs[i].seq), good.end)
			}
			if err := os.Truncate(s.path(s.segs[i].seq), good.end); err != nil {
				return nil, err
			}
		}
	}
	if len(s.segs) == 0 || s.acked.seq < s.segs[0].seq || s.acked.seq > s.segs[len(s.segs)-1].seq {
		s.acked, s.ackedLines = cursor{}, 0
		if len(s.segs) > 0 {
			s.acked.seq = s.segs[0].seq
		}
	}
	if len(s.segs) == 0 {
		if err := s.roll(); err != nil {
			return nil, err
		}
	} else if s.w, err = os.OpenFile(s.path(s.segs[len(s.segs)-1].seq), os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, segSuffix))
}

// ackedAt is the acked offset inside segment seq (-1: not that segment).
func (s *spool) ackedAt(seq uint64) int64 {
	if seq == s.acked.seq {
		return s.acked.off
	}
	return -1
}

// roll starts a new segment after the last one.
func (s *spool) roll() error {
	var seq uint64
	if n := len(s.segs); n > 0 {
		seq = s.segs[n-1].seq + 1
	}
	if s.w != nil {
		if err := s.w.Sync(); err != nil {
			return err
		}
		_ = s.w.Close()
		s.w = nil
	}
	f, err := os.OpenFile(s.path(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	s.w = f
	s.segs = append(s.segs, segment{seq: seq})
	return nil
}

// Append adds entries after the last ones and flushes them to disk; the
// cap then removes the oldest segments where the spool outgrew it.
func (s *spool) Append(entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := bufio.NewWriterSize(s.w, 64<<10)
	var rec []byte
	for _, e := range entries {
		rec = encodeRecord(rec[:0], e)
		last := &s.segs[len(s.segs)-1]
		if last.size > 0 && last.size+int64(len(rec)) > s.segMax {
			if err := buf.Flush(); err != nil {
				return err
			}
			if err := s.roll(); err != nil {
				return err
			}
			buf.Reset(s.w)
			last = &s.segs[len(s.segs)-1]
		}
		if _, err := buf.Write(rec); err != nil {
			return err
		}
		last.size += int64(len(rec))
		last.lines++
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	if err := s.w.Sync(); err != nil {
		return err
	}
	if err := s.enforceCap(); err != nil {
		return err
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// enforceCap removes the oldest segments while the spool is over its cap,
// keeping the one being appended to.
func (s *spool) enforceCap() error {
	dropped := 0
	for len(s.segs) > 1 && s.size() > s.cap {
		old := s.segs[0]
		if err := os.Remove(s.path(old.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
		switch {
		case old.seq == s.acked.seq:
			dropped += old.lines - s.ackedLines
		case old.seq > s.acked.seq:
			dropped += old.lines
		}
		if s.acked.seq <= old.seq {
			s.acked, s.ackedLines = cursor{seq: s.segs[0].seq}, 0
		}
	}
	if dropped > 0 && s.dropped != nil {
		s.dropped(dropped)
	}
	return nil
}

func (s *spool) size() int64 {
	var n int64
	for _, g := range s.segs {
		n += g.size
	}
	return n
}

// Size is the bytes the spool holds.
func (s *spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size()
}

// Notify has a value after an Append.
func (s *spool) Notify() <-chan struct{} { return s.notify }

// batch is what Peek read: the entries and the cursor after the last.
type batch struct {
	entries []Entry
	next    cursor
	// lines is the count of records read in next's segment before next
	lines int
	// skipped: a damaged record ended a segment early; the rest of it is
	// passed over (and said in the log)
	skipped bool
}

// Peek reads up to maxLines entries (and about maxBytes) from the oldest
// one not yet acked.
func (s *spool) Peek(maxLines int, maxBytes int64) (batch, error) {
	s.mu.Lock()
	at, lines := s.acked, s.ackedLines
	segs := slices.Clone(s.segs)
	s.mu.Unlock()
	b := batch{next: at, lines: lines}
	var read int64
	for _, g := range segs {
		if g.seq < at.seq {
			continue
		}
		if g.seq > b.next.seq {
			b.next, b.lines = cursor{seq: g.seq}, 0
		}
		if b.next.off >= g.size {
			continue
		}
		f, err := os.Open(s.path(g.seq))
		if errors.Is(err, os.ErrNotExist) {
			continue // dropped by the cap meanwhile
		}
		if err != nil {
			return b, err
		}
		r := io.NewSectionReader(f, b.next.off, g.size-b.next.off)
		br := bufio.NewReaderSize(r, 64<<10)
		for len(b.entries) < maxLines && read < maxBytes {
			e, n, err := readRecord(br)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				// only a disk that changed what was flushed gets here
				logrus.Warnf("Log forwarding: spool segment %s is damaged after byte %d; its other lines are lost", s.path(g.seq), b.next.off)
				b.next.off, b.skipped = g.size, true
				break
			}
			b.entries = append(b.entries, e)
			b.next.off += int64(n)
			b.lines++
			read += int64(n)
		}
		_ = f.Close()
		if len(b.entries) >= maxLines || read >= maxBytes {
			break
		}
	}
	return b, nil
}

// Ack marks everything before b.next as sent: the mark is written to
// disk, and segments wholly sent are removed.
func (s *spool) Ack(b batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) > 0 && b.next.seq < s.segs[0].seq {
		return nil // its segments were dropped by the cap meanwhile
	}
	s.acked, s.ackedLines = b.next, b.lines
	// the mark first: a stop between the two then sends nothing twice
	if err := atomicfile.Write(filepath.Join(s.dir, ackedFile), []byte(fmt.Sprintf("%x %d\n", s.acked.seq, s.acked.off)), 0o600); err != nil {
		return err
	}
	return s.removeSent()
}

// removeSent removes the segments wholly before the acked mark; the last
// one, appended to, stays. The caller holds mu, or owns s alone.
func (s *spool) removeSent() error {
	for len(s.segs) > 1 && s.segs[0].seq < s.acked.seq {
		if err := os.Remove(s.path(s.segs[0].seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
	}
	return nil
}

// Close flushes and closes the segment being appended to.
func (s *spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return nil
	}
	err := s.w.Sync()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	s.w = nil
	return err
}

// readAcked reads the acked mark; a missing or unreadable one is the
// start.
func readAcked(path string) cursor {
	b, err := os.ReadFile(path)
	if err != nil {
		return cursor{}
	}
	var c cursor
	if _, err := fmt.Sscanf(string(b), "%x %d", &c.seq, &c.off); err != nil || c.off < 0 {
		return cursor{}
	}
	return c
}

// scanned is what scanSegment found.
type scanned struct {
	end    int64 // the end of the last whole record
	before int   // records before the offset asked about
	torn   bool  // bytes after end are not a whole record
}

// scanSegment counts a segment's whole records, and those before the
// offset at (-1: none asked).
func scanSegment(path string, at int64) (scanned, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return scanned{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return scanned{}, 0, err
	}
	var sc scanned
	lines := 0
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		if at >= 0 && sc.end <= at {
			sc.before = lines
		}
		_, n, err := readRecord(br)
		if err != nil {
			sc.torn = sc.end < st.Size()
			return sc, lines, nil
		}
		sc.end += int64(n)
		lines++
	}
}

// A record is a uvarint length, the CRC-32C of the payload, and the
// payload: the entry's time (varint, Unix nanoseconds) and its strings,
// each a uvarint length and the bytes.

// crcTable is made at first use: a node that does not ship logs spends
// no memory on it.
var crcTable = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

func encodeRecord(dst []byte, e Entry) []byte {
	var p []byte
	p = binary.AppendVarint(p, e.Time)
	for _, s := range e.strings() {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(p, crcTable()))
	return append(dst, p...)
}

// maxRecord bounds a record's length as read back: a line is at most
// what the CRI writes (16 KiB) or the log relay passes (64 KiB).
const maxRecord = 1 << 20

var errBadRecord = errors.New("damaged record")

// readRecord reads one record and the bytes it took; io.EOF at a clean
// end, errBadRecord or io.ErrUnexpectedEOF where the bytes are not one.
func readRecord(br *bufio.Reader) (Entry, int, error) {
	var e Entry
	n, err := binary.ReadUvarint(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return e, 0, io.EOF
		}
		return e, 0, errBadRecord
	}
	if n > maxRecord {
		return e, 0, errBadRecord
	}
	head := uvarintLen(n) + 4
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return e, 0, io.ErrUnexpectedEOF
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return e, 0, io.ErrUnexpectedEOF
	}
	if crc32.Checksum(p, crcTable()) != binary.LittleEndian.Uint32(sum[:]) {
		return e, 0, errBadRecord
	}
	if err := e.decode(p); err != nil {
		return e, 0, err
	}
	return e, head + int(n), nil
}

func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}
