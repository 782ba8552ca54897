package logforward

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edgeos/edgeos/pkg/atomicfile"
)

// The tailer reads the kubelet's pod logs: <root>/<namespace>_<pod>_<uid>/
// <container>/<restarts>.log, in the CRI format (time, stream, P or F
// for a partial or full line, content). It follows a file across the
// kubelet's rotation (the file renamed to <restarts>.log.<time>, a new one
// made) by keeping the old one open until it is read to its end, and it
// remembers where it stopped in each file, by inode, in a positions file
// written after the lines are in the spool.

// maxRead bounds what one pass reads from one file, so that one busy
// container cannot hold the others back or fill the memory.
const maxRead = 1 << 20

// maxLine bounds one line as sent: a longer run of partial lines is sent
// in pieces of this size.
const maxLine = 256 << 10

// position is where reading stopped in a file.
type position struct {
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

type tracked struct {
	f     *os.File
	inode uint64
	off   int64
	src   Source
}

type tailer struct {
	root      string
	positions string // the positions file
	files     map[string]*tracked
	saved     map[string]position // as read at start or a Rewind, until the next pass
	dirty     bool                // positions changed since the last Save
}

func newTailer(root, positionsFile string) *tailer {
	t := &tailer{root: root, positions: positionsFile, files: map[string]*tracked{}}
	t.Rewind()
	return t
}

// Rewind goes back to the positions last saved: what was read since is
// read again.
func (t *tailer) Rewind() {
	t.Close()
	t.saved, t.dirty = map[string]position{}, false
	if b, err := os.ReadFile(t.positions); err == nil {
		// a damaged file costs lines sent twice, never lines lost
		_ = json.Unmarshal(b, &t.saved)
	}
}

// Read returns the whole lines written since the last pass, file by file.
func (t *tailer) Read() []Entry {
	if t.root == "" {
		return nil
	}
	var out []Entry
	paths, _ := filepath.Glob(filepath.Join(t.root, "*", "*", "*.log"))
	seen := map[string]bool{}
	for _, p := range paths {
		src, ok := sourceOf(t.root, p)
		if !ok {
			continue
		}
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		seen[p] = true
		ino := inodeOf(st)
		tr := t.files[p]
		if tr != nil && tr.inode != ino {
			// rotated: the rest of the old file first
			out = tr.drain(out)
			tr.f.Close()
			tr = nil
			delete(t.files, p)
		}
		if tr == nil {
			start := int64(0)
			if pos, ok := t.saved[p]; ok {
				if pos.Inode == ino {
					start = pos.Offset
				} else {
					out = t.finishRotated(out, p, pos, src)
				}
				delete(t.saved, p)
			}
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			tr = &tracked{f: f, inode: ino, off: start, src: src}
			t.files[p] = tr
		}
		before := tr.off
		out = tr.read(out)
		t.dirty = t.dirty || tr.off != before
	}
	for p, tr := range t.files {
		if !seen[p] {
			// the pod is gone (or the file rotated away): what is left
			out = tr.drain(out)
			tr.f.Close()
			delete(t.files, p)
			t.dirty = true
		}
	}
	// what the first pass did not find is gone for good
	if len(t.saved) > 0 {
		t.saved = map[string]position{}
		t.dirty = true
	}
	return out
}

// finishRotated reads what is left of a file edgeos was reading when it
// stopped and the kubelet rotated while it was down: it now has a name of
// the form <path>.<time>.
func (t *tailer) finishRotated(out []Entry, path string, pos position, src Source) []Entry {
	olds, _ := filepath.Glob(path + ".*")
	for _, o := range olds {
		if strings.HasSuffix(o, ".gz") {
			continue
		}
		st, err := os.Stat(o)
		if err != nil || inodeOf(st) != pos.Inode {
			continue
		}
		f, err := os.Open(o)
		if err != nil {
			return out
		}
		tr := &tracked{f: f, inode: pos.Inode, off: pos.Offset, src: src}
		out = tr.drain(out)
		f.Close()
		return out
	}
	return out
}

// Save writes where reading stopped in every open file, where that
// changed; call it after what Read returned is in the spool.
func (t *tailer) Save() error {
	if !t.dirty {
		return nil
	}
	pos := make(map[string]position, len(t.files))
	for p, tr := range t.files {
		pos[p] = position{Inode: tr.inode, Offset: tr.off}
	}
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(t.positions, b, 0o600); err != nil {
		return err
	}
	t.dirty = false
	return nil
}

// Close closes every open file.
func (t *tailer) Close() {
	for p, tr := range t.files {
		tr.f.Close()
		delete(t.files, p)
	}
}

// drain reads a file to its end.
func (tr *tracked) drain(out []Entry) []Entry {
	for {
		before := tr.off
		out = tr.read(out)
		if tr.off == before {
			return out
		}
	}
}

// read reads the whole lines after tr.off (up to maxRead bytes): a run of
// partial lines counts once its full line is there.
func (tr *tracked) read(out []Entry) []Entry {
	r := bufio.NewReaderSize(io.NewSectionReader(tr.f, tr.off, maxRead), 64<<10)
	var pending []byte // content of partial lines so far
	var started int64  // the time of the first of them
	off := tr.off
	for {
		raw, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// a line longer than the CRI ever writes: take it in pieces
			err = nil
		} else if err != nil {
			return out // an unfinished line waits for its end
		}
		off += int64(len(raw))
		e, full := parseCRI(raw, tr.src)
		if len(pending) == 0 {
			started = e.Time
		}
		pending = append(pending, e.Line...)
		if !full && len(pending) < maxLine {
			continue
		}
		e.Time, e.Line = started, string(pending)
		pending = pending[:0]
		out = append(out, e)
		tr.off = off
	}
}

// parseCRI reads one CRI log line; one that is not in the format is taken
// whole, as a full line written now.
func parseCRI(raw []byte, src Source) (Entry, bool) {
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	e := Entry{Source: src}
	fields := bytes.SplitN(raw, []byte(" "), 4)
	if len(fields) == 4 {
		ts, err := time.Parse(time.RFC3339Nano, string(fields[0]))
		tag := string(fields[2])
		if err == nil && (tag == "F" || tag == "P") {
			e.Time, e.Stream, e.Line = ts.UnixNano(), string(fields[1]), string(fields[3])
			return e, tag == "F"
		}
	}
	e.Time, e.Line = time.Now().UnixNano(), string(raw)
	return e, true
}

// sourceOf reads the pod and container from a log file's path.
func sourceOf(root, path string) (Source, bool) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return Source{}, false
	}
	parts := strings.Split(rel, string(filepath.Separator))
	if len(parts) != 3 {
		return Source{}, false
	}
	// namespace and pod names hold no '_', nor does a UID
	pod := strings.Split(parts[0], "_")
	if len(pod) != 3 || pod[0] == "" || pod[1] == "" || parts[1] == "" {
		return Source{}, false
	}
	return Source{Namespace: pod[0], Pod: pod[1], UID: pod[2], Container: parts[1]}, true
}

func inodeOf(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
