package manifests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/edgeos/edgeos/pkg/crd"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Config is what the deployer is told.
type Config struct {
	// Dir is the auto-deploy directory; the deployer makes it.
	Dir string
	// Kubeconfig connects with the rights to write any object.
	Kubeconfig string
}

// Deployer applies the files of the auto-deploy directory.
type Deployer struct {
	cfg Config
}

// New makes a deployer.
func New(cfg Config) *Deployer { return &Deployer{cfg: cfg} }

func (d *Deployer) Name() string { return "manifests" }

// settle is how long the directory must be quiet after a change before
// it is read: an editor or a copy writes a file in several steps.
const settle = 300 * time.Millisecond

// How long a pass that left something undone may wait, at most, before
// the next: a kind that is not served yet may be a moment away (a CRD
// being applied elsewhere), while a write the API refused needs a change
// somewhere else first, and must not fill the log.
const (
	soon  = 30 * time.Second
	later = 10 * time.Minute
)

// Run applies the directory, then again at every change, until ctx ends.
// It is ready once the records' kind is served; the first pass, which
// starts watching the directory, follows at once.
func (d *Deployer) Run(ctx context.Context, ready func()) error {
	if err := os.MkdirAll(d.cfg.Dir, 0o700); err != nil {
		return err
	}
	clients, err := kubeconfig.Connect(d.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	dc := clients.Dynamic
	if err := crd.Ensure(ctx, dc, fieldManager, crdYAML); err != nil {
		return err
	}
	recs, err := records(ctx, dc)
	if err != nil {
		return fmt.Errorf("reading the Manifest records: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	p := &passer{
		dir:     d.cfg.Dir,
		dc:      dc,
		a:       &applier{dc: dc, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(clients.Discovery))},
		records: recs,
		done:    map[string]string{},
		watch:   func(dir string) error { return w.Add(dir) },
		logged:  map[string]string{},
	}
	ready()
	backoff := time.Second
	for {
		within := p.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		again := time.NewTimer(min(backoff, max(within, time.Second)))
		if within > 0 {
			backoff = min(2*backoff, within)
		} else {
			again.Stop()
			backoff = time.Second
		}
		changed := false
		select {
		case <-ctx.Done():
		case <-again.C:
		case err := <-w.Errors:
			// an overflow: the next pass reads everything anyway
			logrus.Debugf("Watching %s: %v", d.cfg.Dir, err)
		case <-w.Events:
			changed = true
		}
		again.Stop()
		if changed {
			backoff = time.Second
			quiet(ctx, w)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// quiet waits until the watcher has had no event for settle, or ctx ends.
func quiet(ctx context.Context, w *fsnotify.Watcher) {
	t := time.NewTimer(settle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.Events:
			t.Reset(settle)
		case <-w.Errors:
		case <-t.C:
			return
		}
	}
}

// passer does one pass over the directory at a time.
type passer struct {
	dir     string
	dc      dynamic.Interface
	a       *applier
	records map[string]*record
	// done: the checksum of each file applied in full, or found invalid,
	// by this process (a file is applied again at every start)
	done  map[string]string
	watch func(dir string) error
	// logged: the last message logged for each file, so that a retry
	// does not log the same failure again
	logged map[string]string
	// within: how long the next pass may wait at most (0: until a change)
	within time.Duration
}

// work is a file to apply in this pass.
type work struct {
	f       File
	rec     *record
	docs    []Document
	applied []Ref
	// the first document that failed, and whether every failure was a kind
	// not served yet
	failed  error
	pending bool
}

// pass applies what changed and removes what is gone. It returns how long
// the next pass may wait at most (0: until a change).
func (p *passer) pass(ctx context.Context) time.Duration {
	p.a.refreshed = false
	p.within = 0
	files, dirs, err := Scan(p.dir)
	if err != nil {
		logrus.Warnf("Reading the manifests in %s: %v", p.dir, err)
		return soon
	}
	for _, dir := range dirs {
		if err := p.watch(dir); err != nil {
			logrus.Debugf("Watching %s: %v", dir, err)
		}
	}
	present := map[string]bool{}
	var todo []*work
	for _, f := range files {
		present[f.Path] = true
		rec := p.record(f.Path)
		switch {
		case f.Skip:
			delete(p.done, f.Path) // applied as it is once the .skip goes
			if rec.reason != ReasonSkipped {
				p.finish(ctx, rec, ReasonSkipped, "a .skip file beside it says to leave it alone")
			}
		case errors.Is(f.Err, ErrTooLarge):
			p.finish(ctx, rec, ReasonInvalid, f.Err.Error())
		case f.Err != nil:
			p.finish(ctx, rec, ReasonPending, fmt.Sprintf("cannot read the file: %v", f.Err))
		case p.done[f.Path] == f.Sum:
		default:
			docs, err := Parse(f.Data)
			if err != nil {
				p.done[f.Path] = f.Sum
				p.finish(ctx, rec, ReasonInvalid, err.Error())
				continue
			}
			todo = append(todo, &work{f: f, rec: rec, docs: docs})
		}
	}
	p.apply(ctx, todo)
	for _, w := range todo {
		p.settle(ctx, w)
	}
	for file, rec := range p.records {
		if !present[file] {
			p.forget(ctx, rec)
		}
	}
	return p.within
}

// again asks for another pass within at most d.
func (p *passer) again(d time.Duration) {
	if p.within == 0 || d < p.within {
		p.within = d
	}
}

// record is the record of a file, new if it has none.
func (p *passer) record(file string) *record {
	if rec := p.records[file]; rec != nil {
		return rec
	}
	rec := &record{name: RecordName(file), file: file}
	p.records[file] = rec
	return rec
}

// apply writes the documents of every file to apply, all files' Namespaces
// and CRDs first.
func (p *passer) apply(ctx context.Context, todo []*work) {
	type item struct {
		w *work
		d Document
	}
	var all []item
	for _, w := range todo {
		for _, d := range w.docs {
			all = append(all, item{w, d})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].d.rank() < all[j].d.rank() })
	var crds []string
	for i, it := range all {
		if len(crds) > 0 && it.d.rank() == rankOther && all[i-1].d.rank() != rankOther {
			// the CRDs' kinds come to be served a moment after the apply
			p.a.established(ctx, crds)
		}
		ref, err := p.a.apply(ctx, it.d)
		if err == nil {
			it.w.applied = append(it.w.applied, ref)
			if ref.rank() == rankCRD {
				crds = append(crds, ref.Name)
			}
			continue
		}
		var notServed errNotServed
		isPending := errors.As(err, &notServed)
		if it.w.failed == nil {
			it.w.failed = fmt.Errorf("%s: %w", it.d.Describe(), err)
			it.w.pending = isPending
		} else {
			it.w.pending = it.w.pending && isPending
		}
	}
}

// settle removes the objects a file no longer holds and records its state.
func (p *passer) settle(ctx context.Context, w *work) {
	var now []Ref
	for _, d := range w.docs {
		now = append(now, RefOf(d.Object))
	}
	stale := Stale(w.rec.objects, now, p.othersObjects(w.f.Path))
	left, delErr := p.a.removeAll(ctx, stale)
	// what it holds now: what it applied, what it applied before and
	// still holds, and what could not be deleted yet
	kept := merge(w.applied, without(w.rec.objects, stale), left)
	w.rec.objects = kept
	switch {
	case w.failed != nil && w.pending:
		p.finish(ctx, w.rec, ReasonPending, w.failed.Error())
	case w.failed != nil:
		p.finish(ctx, w.rec, ReasonFailed, w.failed.Error())
	case delErr != nil:
		p.finish(ctx, w.rec, ReasonFailed, delErr.Error())
	default:
		w.rec.checksum = w.f.Sum
		p.finish(ctx, w.rec, ReasonApplied, fmt.Sprintf("%d objects applied", len(w.applied)))
		if !w.rec.applied() {
			return // the record could not be written: tried again
		}
		p.done[w.f.Path] = w.f.Sum
		if len(stale) > 0 {
			logrus.Infof("Manifest %s: applied %d objects, deleted %d that it no longer holds", w.f.Path, len(w.applied), len(stale))
		} else {
			logrus.Infof("Manifest %s: applied %d objects", w.f.Path, len(w.applied))
		}
	}
}

// forget deletes the objects of a file that is gone, then its record.
func (p *passer) forget(ctx context.Context, rec *record) {
	stale := Stale(rec.objects, nil, p.othersObjects(rec.file))
	left, err := p.a.removeAll(ctx, stale)
	if err != nil {
		rec.objects = left
		p.finish(ctx, rec, ReasonFailed, fmt.Sprintf("the file is gone: %v", err))
		return
	}
	if err := p.dc.Resource(recordGVR).Delete(ctx, rec.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logrus.Warnf("Manifest %s is gone; deleting its record: %v", rec.file, err)
		p.again(soon)
		return
	}
	delete(p.records, rec.file)
	delete(p.done, rec.file)
	delete(p.logged, rec.file)
	logrus.Infof("Manifest %s is gone: deleted the %d objects it applied", rec.file, len(stale))
}

// othersObjects are the objects of every file but file.
func (p *passer) othersObjects(file string) []Ref {
	var out []Ref
	for f, r := range p.records {
		if f != file {
			out = append(out, r.objects...)
		}
	}
	return out
}

// maxMessage bounds a record's message.
const maxMessage = 4096

// finish records a file's state, logging a failure once.
func (p *passer) finish(ctx context.Context, rec *record, reason, message string) {
	if len(message) > maxMessage {
		message = message[:maxMessage] + "…"
	}
	prev := *rec
	rec.set(reason, message)
	if prev.same(rec) {
		// a retry that ends as the last one did writes nothing
		p.logAndRetry(rec.file, reason, message)
		return
	}
	if err := rec.write(ctx, p.dc); err != nil {
		if ctx.Err() == nil {
			logrus.Warnf("Manifest %s: writing its record: %v", rec.file, err)
		}
		*rec = prev
		rec.reason = "" // written again next time
		p.again(soon)
		return
	}
	p.logAndRetry(rec.file, reason, message)
}

// logAndRetry logs a file's failure once and asks for a retry where one
// may succeed.
func (p *passer) logAndRetry(file, reason, message string) {
	switch reason {
	case ReasonPending:
		p.again(soon)
		p.logOnce(file, message)
	case ReasonFailed:
		p.again(later)
		p.logOnce(file, message)
	case ReasonInvalid:
		p.logOnce(file, message)
	default:
		delete(p.logged, file)
	}
}

// logOnce logs a file's failure unless it was the last one logged for it.
func (p *passer) logOnce(file, message string) {
	if p.logged[file] != message {
		p.logged[file] = message
		logrus.Warnf("Manifest %s: %s", file, message)
	}
}

// merge is the union of ref lists, in order, each object once.
func merge(lists ...[]Ref) []Ref {
	seen := map[string]bool{}
	var out []Ref
	for _, l := range lists {
		for _, r := range l {
			if !seen[r.key()] {
				seen[r.key()] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// without is refs less drop.
func without(refs, drop []Ref) []Ref {
	gone := map[string]bool{}
	for _, r := range drop {
		gone[r.key()] = true
	}
	var out []Ref
	for _, r := range refs {
		if !gone[r.key()] {
			out = append(out, r)
		}
	}
	return out
}
