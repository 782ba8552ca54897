package clusterkeys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeos/edgeos/pkg/atomicfile"
)

// ErrNoToken is Adopt's answer when the datastore holds a cluster and this
// server has no token to open its keys with.
var ErrNoToken = errors.New("the datastore already holds a cluster: start this server with its token (--token, as in <data-dir>/server/token on a server of that cluster)")

// File is one file the servers of a cluster share, by its path under the
// server's directory.
type File struct {
	Path string
	Mode os.FileMode
	// Seed files are taken from the cluster where this server has none, and
	// kept where they differ (a server's own later change); the others are
	// the cluster's identity and must be the same on every server.
	Seed bool
}

// Store is where the sealed files live: one key of the datastore.
type Store interface {
	// Get returns the stored value, if there is one.
	Get(ctx context.Context) (value []byte, found bool, err error)
	// Create stores value unless a value is stored already; it reports
	// whether it stored it.
	Create(ctx context.Context, value []byte) (bool, error)
}

// Keys shares Files, under Dir, through Store.
type Keys struct {
	Store Store
	Dir   string
	Files []File
}

// bundle is what is sealed: the files' contents by path.
type bundle struct {
	Files map[string][]byte `json:"files"`
}

// Plan is what adopting the cluster's files does on this server.
type Plan struct {
	// Write are the files this server lacks, by path.
	Write map[string][]byte
	// Kept are seed files that differ here and stay as they are.
	Kept []string
}

// plan compares the cluster's files with this server's (a missing file has
// no entry). An identity file that differs means the server belongs to
// another cluster: an error that names the files, and nothing to write.
func plan(files []File, cluster, local map[string][]byte) (Plan, error) {
	p := Plan{Write: map[string][]byte{}}
	var conflicts []string
	for _, f := range files {
		theirs, ok := cluster[f.Path]
		if !ok {
			continue // a file this cluster's first server did not share
		}
		ours, have := local[f.Path]
		switch {
		case !have:
			p.Write[f.Path] = theirs
		case bytes.Equal(ours, theirs):
		case f.Seed:
			p.Kept = append(p.Kept, f.Path)
		default:
			conflicts = append(conflicts, f.Path)
		}
	}
	if len(conflicts) > 0 {
		return Plan{}, fmt.Errorf("this server's %s differ from the cluster's in the datastore: it was set up for another cluster (move its data dir away to join this one)", strings.Join(conflicts, ", "))
	}
	return p, nil
}

// Adopt writes the cluster's files this server lacks, if the datastore
// holds a cluster, and reports whether it does. It writes nothing when
// the credential does not open the cluster's keys (ErrWrongToken), when
// there is none (ErrNoToken), or when an identity file differs.
func (k Keys) Adopt(ctx context.Context, credential string) (found bool, p Plan, err error) {
	blob, found, err := k.Store.Get(ctx)
	if err != nil || !found {
		return false, Plan{}, err
	}
	if credential == "" {
		return true, Plan{}, ErrNoToken
	}
	plain, err := open(credential, blob)
	if err != nil {
		return true, Plan{}, err
	}
	var b bundle
	if err := json.Unmarshal(plain, &b); err != nil {
		return true, Plan{}, fmt.Errorf("the cluster's keys in the datastore: %w", err)
	}
	local, err := k.read()
	if err != nil {
		return true, Plan{}, err
	}
	if p, err = plan(k.Files, b.Files, local); err != nil {
		return true, Plan{}, err
	}
	for _, f := range k.Files {
		if data, ok := p.Write[f.Path]; ok {
			if err := atomicfile.Write(filepath.Join(k.Dir, f.Path), data, f.Mode); err != nil {
				return true, Plan{}, err
			}
		}
	}
	return true, p, nil
}

// Publish stores this server's files as the cluster's, sealed with
// credential, unless a cluster is stored already; it reports whether it
// stored them. Every file must exist.
func (k Keys) Publish(ctx context.Context, credential string) (bool, error) {
	local, err := k.read()
	if err != nil {
		return false, err
	}
	for _, f := range k.Files {
		if _, ok := local[f.Path]; !ok {
			return false, fmt.Errorf("cannot share %s: it does not exist", filepath.Join(k.Dir, f.Path))
		}
	}
	plain, err := json.Marshal(bundle{Files: local})
	if err != nil {
		return false, err
	}
	blob, err := seal(credential, plain)
	if err != nil {
		return false, err
	}
	return k.Store.Create(ctx, blob)
}

// Remove deletes this server's copies of the files: a server that made
// them during this start and then found another server's cluster stored
// first drops its own before adopting that one.
func (k Keys) Remove() error {
	var errs []error
	for _, f := range k.Files {
		if err := os.Remove(filepath.Join(k.Dir, f.Path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// read returns the files this server has, by path.
func (k Keys) read() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, f := range k.Files {
		data, err := os.ReadFile(filepath.Join(k.Dir, f.Path))
		switch {
		case err == nil:
			out[f.Path] = data
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	return out, nil
}

// Paths lists the files' paths, sorted.
func Paths(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	slices.Sort(out)
	return out
}
