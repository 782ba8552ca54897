package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"
)

// Loader imports the built-in images, then every archive in Dir, at start
// and whenever one appears or changes there.
type Loader struct {
	// Address is containerd's socket.
	Address string
	// Dir is the air-gap directory, <data-dir>/agent/images.
	Dir string
	// Builtin are archives inside the edgeos binary, by name.
	Builtin map[string][]byte
}

func (l *Loader) Name() string { return "images" }

// settle is how long a file must stay unchanged before it is imported, so
// that a copy in progress is not read half-written.
const settle = time.Second

// Run imports, reports ready, then watches Dir until ctx ends. A bad archive
// is logged with its name and skipped; it never stops the node.
func (l *Loader) Run(ctx context.Context, ready func()) error {
	client, err := containerd.New(l.Address, containerd.WithTimeout(30*time.Second))
	if err != nil {
		return fmt.Errorf("connecting to containerd: %w", err)
	}
	defer client.Close()
	names := make([]string, 0, len(l.Builtin))
	for n := range l.Builtin {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := Import(ctx, client, bytes.NewReader(l.Builtin[n])); err != nil {
			return fmt.Errorf("built-in image %s: %w", n, err)
		}
	}
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(l.Dir); err != nil {
		return err
	}
	seen := map[string]stamp{}
	l.importNew(ctx, client, seen)
	ready()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if ok && Archive(ev.Name) {
				timer.Reset(settle)
			}
		case err, ok := <-w.Errors:
			if ok {
				logrus.Warnf("watching %s: %v", l.Dir, err)
			}
		case <-timer.C:
			l.importNew(ctx, client, seen)
		}
	}
}

// stamp identifies a version of a file.
type stamp struct {
	size int64
	mod  time.Time
}

// importNew imports the archives that are new or changed since seen.
func (l *Loader) importNew(ctx context.Context, client *containerd.Client, seen map[string]stamp) {
	entries, err := os.ReadDir(l.Dir)
	if err != nil {
		logrus.Errorf("air-gap images: %v", err)
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !Archive(e.Name()) {
			continue
		}
		st := stamp{info.Size(), info.ModTime()}
		if seen[e.Name()] == st {
			continue
		}
		seen[e.Name()] = st
		path := filepath.Join(l.Dir, e.Name())
		names, err := ImportFile(ctx, client, path)
		if err != nil {
			logrus.Errorf("air-gap image %s not imported: %v", path, err)
			continue
		}
		logrus.Infof("Imported %v from %s", names, path)
	}
}

// ImportFile imports one archive file.
func ImportFile(ctx context.Context, client *containerd.Client, path string) ([]string, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return Import(ctx, client, r)
}
