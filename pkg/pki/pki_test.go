package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureCAIsStable(t *testing.T) {
	dir := t.TempDir()
	a, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Cert.Equal(b.Cert) {
		t.Fatal("second EnsureCA made a new CA instead of loading the stored one")
	}
	if !a.Cert.IsCA {
		t.Fatal("CA certificate is not marked as a CA")
	}
	st, err := os.Stat(a.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode %v, want 0600", st.Mode().Perm())
	}
}

func TestEnsureCARejectsCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := EnsureCA(dir, "ca", "test"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureCA(dir, "ca", "test"); err == nil {
		t.Fatal("a corrupt CA key was accepted (or silently replaced)")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ca.key")); string(b) != "garbage" {
		t.Fatal("the corrupt key was overwritten; bad input must lose nothing")
	}
}

func TestEnsureLeafKeepsRenewsAndReissues(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "leaf.crt"), filepath.Join(dir, "leaf.key")
	leaf := Leaf{CommonName: "kube-apiserver", DNSNames: []string{"a"}, IPs: []net.IP{net.ParseIP("10.0.0.1")}, Server: true}

	wrote, err := ca.EnsureLeaf(crt, key, leaf)
	if err != nil || !wrote {
		t.Fatalf("first EnsureLeaf: wrote=%v err=%v", wrote, err)
	}
	first := readCert(t, crt)
	if err := first.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("leaf not signed by CA: %v", err)
	}
	if first.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Fatal("serving leaf lacks server auth usage")
	}

	if wrote, err := ca.EnsureLeaf(crt, key, leaf); err != nil || wrote {
		t.Fatalf("unchanged leaf was rewritten: wrote=%v err=%v", wrote, err)
	}

	leaf.DNSNames = append(leaf.DNSNames, "b")
	if wrote, err := ca.EnsureLeaf(crt, key, leaf); err != nil || !wrote {
		t.Fatalf("leaf with a new SAN was not reissued: wrote=%v err=%v", wrote, err)
	}
	if got := readCert(t, crt).DNSNames; len(got) != 2 {
		t.Fatalf("reissued SANs %v", got)
	}

	// A certificate 30 days from expiry is renewed at the next start.
	kb, _ := os.ReadFile(key)
	k, err := ParseKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	short, err := ca.Issue(leaf, k.Public(), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crt, PEMCert(short), 0o644); err != nil {
		t.Fatal(err)
	}
	if wrote, err := ca.EnsureLeaf(crt, key, leaf); err != nil || !wrote {
		t.Fatalf("leaf within 90 days of expiry was not renewed: wrote=%v err=%v", wrote, err)
	}
	if left := time.Until(readCert(t, crt).NotAfter); left < RenewBefore {
		t.Fatalf("renewed leaf still expires in %v", left)
	}
}

func TestEnsureKeyWritesSEC1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sa.key")
	if err := EnsureKey(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if _, err := x509.ParseECPrivateKey(mustPEM(t, b)); err != nil {
		t.Fatalf("service-account key is not SEC1, which Kubernetes' key reader needs: %v", err)
	}
	if err := EnsureKey(path); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(b) {
		t.Fatal("EnsureKey replaced an existing key")
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCert(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
