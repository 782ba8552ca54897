package clusterkeys

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	plain := []byte(`{"files":{"tls/server-ca.key":"c2VjcmV0"}}`)
	blob, err := seal("server:right", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("c2VjcmV0")) {
		t.Fatal("the sealed blob carries the plain text")
	}
	got, err := open("server:right", blob)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open = %q, %v; want the plain text", got, err)
	}
	if _, err := open("server:wrong", blob); !errors.Is(err, ErrWrongToken) {
		t.Errorf("another token: %v, want ErrWrongToken", err)
	}
	for i := len(header); i < len(blob); i += 7 {
		changed := bytes.Clone(blob)
		changed[i] ^= 1
		if _, err := open("server:right", changed); err == nil {
			t.Fatalf("a blob changed at byte %d opened", i)
		}
	}
	for _, bad := range [][]byte{nil, []byte("edgeos-cluster-keys-v2\n" + string(blob[len(header):])), blob[:len(header)+saltLen+3]} {
		if _, err := open("server:right", bad); err == nil || errors.Is(err, ErrWrongToken) {
			t.Errorf("open(%q): %v, want an error about the format", bad, err)
		}
	}
	if _, err := seal("", plain); err == nil {
		t.Error("sealed with no token")
	}
	again, err := seal("server:right", plain)
	if err != nil || bytes.Equal(again, blob) {
		t.Errorf("two seals of the same text are the same (%v): salt and nonce must be fresh", err)
	}
}
