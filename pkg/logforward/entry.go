package logforward

import (
	"encoding/binary"
	"errors"
)

// Source is where a line was written: a container of a pod, or (zero)
// edgeos itself.
type Source struct {
	Namespace string
	Pod       string
	UID       string
	Container string
}

// Own reports whether the line is edgeos's own.
func (s Source) Own() bool { return s == Source{} }

// Entry is one log line.
type Entry struct {
	// Time is when the line was written, in Unix nanoseconds.
	Time   int64
	Source Source
	// Stream is stdout or stderr for a container's line, empty for
	// edgeos's own.
	Stream string
	Line   string
}

func (e Entry) strings() [6]string {
	return [6]string{e.Source.Namespace, e.Source.Pod, e.Source.UID, e.Source.Container, e.Stream, e.Line}
}

// decode reads a record's payload (see encodeRecord).
func (e *Entry) decode(p []byte) error {
	t, n := binary.Varint(p)
	if n <= 0 {
		return errBadRecord
	}
	e.Time, p = t, p[n:]
	var fields [6]string
	for i := range fields {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return errBadRecord
		}
		fields[i], p = string(p[n:n+int(l)]), p[n+int(l):]
	}
	if len(p) != 0 {
		return errors.New("damaged record: bytes after its fields")
	}
	e.Source = Source{Namespace: fields[0], Pod: fields[1], UID: fields[2], Container: fields[3]}
	e.Stream, e.Line = fields[4], fields[5]
	return nil
}
