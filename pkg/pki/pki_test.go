package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
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

	wrote, err := ca.EnsureLeaf(crt, key, leaf, LeafValidity)
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

	if wrote, err := ca.EnsureLeaf(crt, key, leaf, LeafValidity); err != nil || wrote {
		t.Fatalf("unchanged leaf was rewritten: wrote=%v err=%v", wrote, err)
	}

	leaf.DNSNames = append(leaf.DNSNames, "b")
	if wrote, err := ca.EnsureLeaf(crt, key, leaf, LeafValidity); err != nil || !wrote {
		t.Fatalf("leaf with a new SAN was not reissued: wrote=%v err=%v", wrote, err)
	}
	if got := readCert(t, crt).DNSNames; len(got) != 2 {
		t.Fatalf("reissued SANs %v", got)
	}

	// A year's certificate 30 days from expiry is renewed.
	kb, _ := os.ReadFile(key)
	k, err := ParseKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := issueAt(t, ca, leaf, k, now.Add(30*24*time.Hour-LeafValidity-backdate), now.Add(30*24*time.Hour))
	if err := os.WriteFile(crt, PEMCert(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if wrote, err := ca.EnsureLeaf(crt, key, leaf, LeafValidity); err != nil || !wrote {
		t.Fatalf("leaf within 90 days of expiry was not renewed: wrote=%v err=%v", wrote, err)
	}
	if left := time.Until(readCert(t, crt).NotAfter); left < RenewBefore {
		t.Fatalf("renewed leaf still expires in %v", left)
	}
}

// issueAt signs a certificate valid from notBefore to notAfter.
func issueAt(t *testing.T, ca *CA, l Leaf, key crypto.Signer, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: l.CommonName, Organization: l.Organization},
		DNSNames: l.DNSNames, IPAddresses: l.IPs, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRenewalWindow(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		validity, window time.Duration
	}{
		{LeafValidity, RenewBefore},
		{2 * time.Minute, 30 * time.Second},
		{200 * 24 * time.Hour, 50 * 24 * time.Hour},
	} {
		cert, err := ca.Issue(Leaf{CommonName: "x"}, key.Public(), c.validity)
		if err != nil {
			t.Fatal(err)
		}
		if got := Lifetime(cert); got != c.validity {
			t.Errorf("lifetime of a %v certificate: %v", c.validity, got)
		}
		if got := RenewalWindow(cert); got != c.window {
			t.Errorf("renewal window of a %v certificate: %v, want %v", c.validity, got, c.window)
		}
		due := cert.NotAfter.Add(-c.window)
		if Due(cert, due.Add(-time.Second)) || !Due(cert, due) || !Due(cert, cert.NotAfter.Add(time.Hour)) {
			t.Errorf("%v certificate: due before its window, or not due inside it or after expiry", c.validity)
		}
	}
}

func TestEnsureLeafRepairsAPairThatDisagrees(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	crt, keyFile := filepath.Join(dir, "leaf.crt"), filepath.Join(dir, "leaf.key")
	leaf := Leaf{CommonName: "system:admin"}
	if _, err := ca.EnsureLeaf(crt, keyFile, leaf, LeafValidity); err != nil {
		t.Fatal(err)
	}
	// the key is replaced behind edgeos's back: the certificate must follow
	// the key on disk, which stays as it is
	other, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, PEMKey(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if wrote, err := ca.EnsureLeaf(crt, keyFile, leaf, LeafValidity); err != nil || !wrote {
		t.Fatalf("a certificate that does not fit its key was kept: wrote=%v err=%v", wrote, err)
	}
	if err := Matches(readCert(t, crt), other); err != nil {
		t.Fatal(err)
	}
}

func TestRenewKeepsKeyNamesAndLifetime(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	crt, keyFile := filepath.Join(dir, "leaf.crt"), filepath.Join(dir, "leaf.key")
	leaf := Leaf{CommonName: "kube-apiserver", DNSNames: []string{"a", "b"}, IPs: []net.IP{net.ParseIP("10.0.0.1")}, Server: true}
	if _, err := ca.EnsureLeaf(crt, keyFile, leaf, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	before := readCert(t, crt)
	keyBefore, _ := os.ReadFile(keyFile)
	renewed, err := ca.Renew(crt, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	after := readCert(t, crt)
	if !after.Equal(renewed) || after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Fatal("Renew did not write a new certificate")
	}
	if keyAfter, _ := os.ReadFile(keyFile); string(keyAfter) != string(keyBefore) {
		t.Fatal("Renew replaced the key")
	}
	if Lifetime(after) != 3*time.Hour || after.NotAfter.Before(before.NotAfter) {
		t.Fatalf("renewed lifetime %v, until %v (was until %v)", Lifetime(after), after.NotAfter, before.NotAfter)
	}
	if !sameSet(after.DNSNames, leaf.DNSNames) || !after.IPAddresses[0].Equal(leaf.IPs[0]) || !LeafOf(after).Server {
		t.Fatalf("renewed certificate lost its names or usage: %+v", LeafOf(after))
	}
	// the renewed certificate is what EnsureLeaf wants: no second write
	if wrote, err := ca.EnsureLeaf(crt, keyFile, leaf, 3*time.Hour); err != nil || wrote {
		t.Fatalf("a renewed leaf was rewritten: wrote=%v err=%v", wrote, err)
	}
}

func TestEnsureLeafLeavesALeafCappedByItsCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "test")
	if err != nil {
		t.Fatal(err)
	}
	// a CA that expires in 10 days: every leaf it signs is due at once
	ca.Cert.NotAfter = time.Now().Add(10 * 24 * time.Hour)
	crt, keyFile := filepath.Join(dir, "leaf.crt"), filepath.Join(dir, "leaf.key")
	leaf := Leaf{CommonName: "system:admin"}
	if wrote, err := ca.EnsureLeaf(crt, keyFile, leaf, LeafValidity); err != nil || !wrote {
		t.Fatalf("first EnsureLeaf: wrote=%v err=%v", wrote, err)
	}
	if wrote, err := ca.EnsureLeaf(crt, keyFile, leaf, LeafValidity); err != nil || wrote {
		t.Fatalf("a leaf that cannot outlive its CA was issued again: wrote=%v err=%v", wrote, err)
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
