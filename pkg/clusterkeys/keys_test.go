package clusterkeys

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/pkg/component/componenttest"
	"github.com/edgeos/edgeos/pkg/datastore"
)

var testFiles = []File{
	{Path: "tls/ca.crt", Mode: 0o644},
	{Path: "tls/ca.key", Mode: 0o600},
	{Path: "cred/encryption.yaml", Mode: 0o600, Seed: true},
}

func TestPlan(t *testing.T) {
	cluster := map[string][]byte{"tls/ca.crt": []byte("crt"), "tls/ca.key": []byte("key"), "cred/encryption.yaml": []byte("enc")}
	for _, tc := range []struct {
		name     string
		local    map[string][]byte
		write    []string
		kept     []string
		conflict string
	}{
		{name: "a new server", local: map[string][]byte{}, write: []string{"cred/encryption.yaml", "tls/ca.crt", "tls/ca.key"}},
		{name: "a server of the cluster", local: cluster},
		{name: "one file lost", local: map[string][]byte{"tls/ca.crt": []byte("crt"), "cred/encryption.yaml": []byte("enc")}, write: []string{"tls/ca.key"}},
		{name: "its own encryption keys", local: map[string][]byte{"tls/ca.crt": []byte("crt"), "tls/ca.key": []byte("key"), "cred/encryption.yaml": []byte("mine")}, kept: []string{"cred/encryption.yaml"}},
		{name: "another cluster's CA", local: map[string][]byte{"tls/ca.crt": []byte("other"), "tls/ca.key": []byte("key")}, conflict: "tls/ca.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan(testFiles, cluster, tc.local)
			if tc.conflict != "" {
				if err == nil || !strings.Contains(err.Error(), tc.conflict) {
					t.Fatalf("err = %v, want a conflict naming %s", err, tc.conflict)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var write []string
			for _, f := range testFiles {
				if data, ok := p.Write[f.Path]; ok {
					write = append(write, f.Path)
					if string(data) != string(cluster[f.Path]) {
						t.Errorf("%s written as %q", f.Path, data)
					}
				}
			}
			if !sameStrings(write, tc.write) || !sameStrings(p.Kept, tc.kept) {
				t.Errorf("write %v kept %v, want %v and %v", write, p.Kept, tc.write, tc.kept)
			}
		})
	}
}

func sameStrings(a, b []string) bool {
	am, bm := map[string]bool{}, map[string]bool{}
	for _, s := range a {
		am[s] = true
	}
	for _, s := range b {
		bm[s] = true
	}
	return reflect.DeepEqual(am, bm)
}

// TestKeysThroughKine shares the files between server directories through
// a real kine on SQLite.
func TestKeysThroughKine(t *testing.T) {
	ctx := context.Background()
	ds := datastore.New(datastore.Config{Dir: t.TempDir()})
	componenttest.Run(t, ds)
	cli, err := ds.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	store := EtcdStore{KV: cli, Key: Key}
	keys := func(files map[string]string) Keys {
		dir := t.TempDir()
		for p, data := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return Keys{Store: store, Dir: dir, Files: testFiles}
	}
	first := keys(map[string]string{"tls/ca.crt": "crt", "tls/ca.key": "key", "cred/encryption.yaml": "enc"})
	if found, _, err := first.Adopt(ctx, "server:s3cret"); found || err != nil {
		t.Fatalf("an empty datastore: found %v, %v", found, err)
	}
	if stored, err := first.Publish(ctx, "server:s3cret"); !stored || err != nil {
		t.Fatalf("the first server's Publish: %v, %v", stored, err)
	}
	blob, _, err := store.Get(ctx)
	if err != nil || strings.Contains(string(blob), `"files"`) {
		t.Fatalf("stored value (%v) is not sealed: %q", err, blob)
	}

	second := keys(nil)
	if stored, err := second.Publish(ctx, "server:s3cret"); err == nil || stored {
		t.Errorf("a server without the files published: %v, %v", stored, err)
	}
	if found, p, err := second.Adopt(ctx, "server:s3cret"); !found || err != nil || len(p.Write) != 3 {
		t.Fatalf("the second server's Adopt: found %v, %d files, %v", found, len(p.Write), err)
	}
	for _, f := range testFiles {
		st, err := os.Stat(filepath.Join(second.Dir, f.Path))
		if err != nil || st.Mode().Perm() != f.Mode {
			t.Errorf("%s: %v, mode %v, want %v", f.Path, err, st.Mode().Perm(), f.Mode)
		}
	}
	if stored, err := second.Publish(ctx, "server:s3cret"); stored || err != nil {
		t.Errorf("a second Publish replaced the cluster's files: %v, %v", stored, err)
	}

	for name, tc := range map[string]struct {
		files      map[string]string
		credential string
		want       error
	}{
		"wrong token":     {credential: "server:guess", want: ErrWrongToken},
		"no token":        {want: ErrNoToken},
		"another cluster": {files: map[string]string{"tls/ca.key": "other"}, credential: "server:s3cret"},
	} {
		k := keys(tc.files)
		found, _, err := k.Adopt(ctx, tc.credential)
		if !found || err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: found %v, %v; want %v", name, found, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(k.Dir, "tls/ca.crt")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a file was written (%v)", name, err)
		}
	}
	own := keys(map[string]string{"cred/encryption.yaml": "mine"})
	if _, p, err := own.Adopt(ctx, "server:s3cret"); err != nil || !reflect.DeepEqual(p.Kept, []string{"cred/encryption.yaml"}) {
		t.Errorf("a server's own encryption keys: kept %v, %v", p.Kept, err)
	}
	if data, _ := os.ReadFile(filepath.Join(own.Dir, "cred/encryption.yaml")); string(data) != "mine" {
		t.Errorf("a seed file was replaced: %q", data)
	}
	if err := own.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(own.Dir, "tls/ca.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Remove left tls/ca.key (%v)", err)
	}
}
