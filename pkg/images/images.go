// Package images brings images into a node without a registry: the pause
// image built into edgeos, and the archives an operator drops into
// <data-dir>/agent/images (docker save or OCI layout; .tar, .tar.gz,
// .tar.zst) or imports with `edgeos images import`. Imported images are
// pinned, so image garbage collection never removes them.
package images

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/edgeos/edgeos/pkg/expansion"
	"github.com/klauspost/compress/zstd"
)

// Namespace is containerd's namespace for the kubelet's images (CRI's).
const Namespace = "k8s.io"

// Labels CRI reads: an image it manages, and one it must never remove.
var pinnedLabels = map[string]string{
	"io.cri-containerd.image":  "managed",
	"io.cri-containerd.pinned": "pinned",
}

// Snapshotter is where images are unpacked, as CRI expects.
const Snapshotter = "overlayfs"

// Archive reports whether a file name is one the air-gap import reads.
func Archive(name string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Open returns the archive in path, decompressed by its content (gzip or
// zstd) rather than trusting its name, within the bounds of pkg/expansion.
func Open(path string) (io.ReadCloser, error) {
	return open(path, expansion.Floor)
}

func open(path string, floor int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, compressed, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if compressed {
		r = expansion.Limit(r, st.Size(), floor, path)
	}
	return readCloser{r, f}, nil
}

// readCloser closes the decompressor, then the file.
type readCloser struct {
	io.Reader
	file *os.File
}

func (rc readCloser) Close() error {
	if c, ok := rc.Reader.(io.Closer); ok {
		c.Close()
	}
	return rc.file.Close()
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress reads r through gzip or zstd if its first bytes say so, and
// reports whether it does.
func decompress(r io.Reader) (io.Reader, bool, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		z, err := gzip.NewReader(br)
		return z, true, err
	case bytes.HasPrefix(head, zstdMagic):
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, false, err
		}
		return d.IOReadCloser(), true, nil
	default:
		return br, false, nil
	}
}

// Import loads an archive into containerd, unpacks it for CRI and pins it.
// It returns the image names; an archive whose images carry no name adds
// nothing a pod could use, and says so.
func Import(ctx context.Context, client *containerd.Client, r io.Reader) ([]string, error) {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	imgs, err := client.Import(ctx, r, containerd.WithImageLabels(pinnedLabels))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := containerd.NewImage(client, img).Unpack(ctx, Snapshotter); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the archive names no image (docker save with a tag, or an OCI layout with an image name annotation)")
	}
	return names, nil
}
