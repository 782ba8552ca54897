// Package expansion bounds what a compressed file may decompress to, so
// that a decompression bomb (a small file of zeros compressed a
// thousandfold) is refused as it is read, before it fills the disk. What
// edgeos reads compressed (image archives, snapshots) holds data that is
// compressed already or compresses a few times over; a hundredfold is
// none of those.
package expansion

import (
	"fmt"
	"io"
)

const (
	// Ratio is how many times its file's size a stream may grow to.
	Ratio = 100
	// Floor lets small files of very compressible data through.
	Floor = 1 << 30
)

// Limit reads r, the decompressed content of what (a file of compressed
// bytes), and fails a read once more than max(floor, Ratio × compressed)
// bytes came out.
func Limit(r io.Reader, compressed, floor int64, what string) io.Reader {
	return &limited{r: r, limit: max(floor, compressed*Ratio), what: what}
}

type limited struct {
	r     io.Reader
	n     int64
	limit int64
	what  string
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return 0, fmt.Errorf("%s decompresses to more than %d bytes (%d times its size, or %d): refused as a decompression bomb", l.what, l.limit, Ratio, int64(Floor))
	}
	return n, err
}

// Close closes r if it can be.
func (l *limited) Close() error {
	if c, ok := l.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
