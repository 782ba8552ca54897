package logforward

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// podLog is a container's log file as the CRI writes it.
type podLog struct {
	t    *testing.T
	path string
	f    *os.File
}

func newPodLog(t *testing.T, root, ns, pod, container string) *podLog {
	t.Helper()
	dir := filepath.Join(root, ns+"_"+pod+"_uid-1", container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &podLog{t: t, path: filepath.Join(dir, "0.log")}
	l.open()
	t.Cleanup(func() { l.f.Close() })
	return l
}

func (l *podLog) open() {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		l.t.Fatal(err)
	}
	l.f = f
}

func (l *podLog) write(s string) {
	if _, err := l.f.WriteString(s); err != nil {
		l.t.Fatal(err)
	}
}

func (l *podLog) lines(from, to int) {
	for i := from; i < to; i++ {
		l.write(fmt.Sprintf("2026-11-30T10:00:00.%09dZ stdout F line %06d\n", i, i))
	}
}

// rotate does what the kubelet does: renames the file, and the runtime
// then writes to a new one.
func (l *podLog) rotate(suffix string) {
	if err := os.Rename(l.path, l.path+"."+suffix); err != nil {
		l.t.Fatal(err)
	}
}

func (l *podLog) reopen() {
	l.f.Close()
	l.open()
}

func TestTailLines(t *testing.T) {
	root := t.TempDir()
	l := newPodLog(t, root, "shop", "web-1", "nginx")
	tl := newTailer(root, filepath.Join(t.TempDir(), "positions.json"))
	defer tl.Close()
	l.write("2026-11-30T10:00:00.000000001Z stdout P first \n")
	l.write("2026-11-30T10:00:00.000000002Z stdout P half, \n")
	l.write("2026-11-30T10:00:00.000000003Z stdout F whole\n")
	l.write("2026-11-30T10:00:00.000000004Z stderr F an error\n")
	l.write("2026-11-30T10:00:00.000000005Z stdout F not fini") // still being written
	got := tl.Read()
	if len(got) != 2 {
		t.Fatalf("got %+v", got)
	}
	// a line in parts has the time of its first part
	want := Entry{Time: time.Date(2026, 11, 30, 10, 0, 0, 1, time.UTC).UnixNano(), Source: Source{Namespace: "shop", Pod: "web-1", UID: "uid-1", Container: "nginx"}, Stream: "stdout", Line: "first half, whole"}
	if got[0] != want {
		t.Errorf("got %+v\nwant %+v", got[0], want)
	}
	if got[1].Stream != "stderr" || got[1].Line != "an error" {
		t.Errorf("got %+v", got[1])
	}
	l.write("shed\n")
	got = tl.Read()
	if len(got) != 1 || got[0].Line != "not finished" {
		t.Errorf("the line finished later: %+v", got)
	}
	if again := tl.Read(); len(again) != 0 {
		t.Errorf("read twice: %+v", again)
	}
}

// Across the kubelet's rotation, and a pod that goes away, every line is
// read once, in order.
func TestTailRotationAndRemoval(t *testing.T) {
	root := t.TempDir()
	l := newPodLog(t, root, "ns", "p", "c")
	tl := newTailer(root, filepath.Join(t.TempDir(), "positions.json"))
	defer tl.Close()
	l.lines(0, 10)
	got := tl.Read()
	l.lines(10, 20)
	l.rotate("20261130-100000")
	l.lines(20, 25) // the runtime has not reopened yet
	l.reopen()
	l.lines(25, 40)
	got = append(got, tl.Read()...)
	l.lines(40, 50)
	if err := os.RemoveAll(filepath.Dir(filepath.Dir(l.path))); err != nil {
		t.Fatal(err)
	}
	got = append(got, tl.Read()...)
	checkRun(t, lineNumbers(t, got), 0, 50)
	if len(tl.files) != 0 {
		t.Errorf("%d files still open after the pod went", len(tl.files))
	}
}

// After a restart reading goes on where it stopped, also in a file the
// kubelet rotated meanwhile.
func TestTailPositions(t *testing.T) {
	root, state := t.TempDir(), filepath.Join(t.TempDir(), "positions.json")
	l := newPodLog(t, root, "ns", "p", "c")
	tl := newTailer(root, state)
	l.lines(0, 10)
	got := tl.Read()
	if err := tl.Save(); err != nil {
		t.Fatal(err)
	}
	l.lines(10, 15)
	tl.Read() // read, but the spool did not take it: not saved
	tl.Close()

	l.lines(15, 20)
	l.rotate("20261130-100000")
	l.reopen()
	l.lines(20, 30)
	tl = newTailer(root, state)
	got = append(got, tl.Read()...)
	if err := tl.Save(); err != nil {
		t.Fatal(err)
	}
	tl.Close()
	checkRun(t, lineNumbers(t, got), 0, 30)

	tl = newTailer(root, state)
	defer tl.Close()
	l.lines(30, 32)
	checkRun(t, lineNumbers(t, tl.Read()), 30, 32)
}

// A run of partial lines longer than maxLine goes in pieces rather than
// holding the file back.
func TestTailLongLine(t *testing.T) {
	root := t.TempDir()
	l := newPodLog(t, root, "ns", "p", "c")
	tl := newTailer(root, filepath.Join(t.TempDir(), "positions.json"))
	defer tl.Close()
	chunk := strings.Repeat("x", 16<<10)
	for range 20 {
		l.write("2026-11-30T10:00:00Z stdout P " + chunk + "\n")
	}
	l.write("2026-11-30T10:00:00Z stdout F end\n")
	got := tl.Read()
	total := 0
	for _, e := range got {
		total += len(e.Line)
		if len(e.Line) > maxLine {
			t.Errorf("a piece of %d bytes", len(e.Line))
		}
	}
	if total != 20*len(chunk)+3 || len(got) != 2 {
		t.Errorf("%d bytes in %d pieces, want %d in 2", total, len(got), 20*len(chunk)+3)
	}
}

func TestSourceOf(t *testing.T) {
	for path, ok := range map[string]bool{
		"/r/ns_pod_uid/c/0.log":     true,
		"/r/ns_pod/c/0.log":         false,
		"/r/ns_pod_uid_x/c/0.log":   false,
		"/r/_pod_uid/c/0.log":       false,
		"/r/ns_pod_uid/c/d/0.log":   false,
		"/elsewhere/ns_pod_u/c/0.l": false,
	} {
		if _, got := sourceOf("/r", path); got != ok {
			t.Errorf("%s: %v", path, got)
		}
	}
}
