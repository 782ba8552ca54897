package clusterkeys

import (
	"bytes"
	"testing"
)

// FuzzOpen: whatever the datastore holds under the key, opening it ends
// in an error or in the one text sealed with that token, never a panic.
func FuzzOpen(f *testing.F) {
	plain := []byte(`{"files":{"tls/server-ca.key":"a2V5"}}`)
	blob, err := seal("server:fuzz", plain)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:len(header)+saltLen])
	f.Add([]byte(header))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := open("server:fuzz", b)
		if err == nil && !bytes.Equal(got, plain) {
			t.Fatalf("opened to %q", got)
		}
	})
}
