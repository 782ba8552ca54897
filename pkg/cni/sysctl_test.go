package cni

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnableSysctls(t *testing.T) {
	dir := t.TempDir()
	fwd := filepath.Join(dir, "net/ipv4/ip_forward")
	if err := os.MkdirAll(filepath.Dir(fwd), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fwd, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// br_netfilter absent: not an error
	if err := enableSysctls(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fwd); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("ip_forward = %q", b)
	}
	// forwarding cannot be turned on: an error that names it
	if err := enableSysctls(t.TempDir()); err == nil || !strings.Contains(err.Error(), "net.ipv4.ip_forward") {
		t.Errorf("missing ip_forward: %v", err)
	}
}
