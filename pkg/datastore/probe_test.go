package datastore

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProbeAddrs(t *testing.T) {
	for ep, want := range map[string][]string{
		"postgres://u:p@db.example:6000/k8s":     {"db.example:6000"},
		"postgres://u:p@db.example/k8s":          {"db.example:5432"},
		"mysql://u:p@tcp(10.0.0.5:3307)/k8s":     {"10.0.0.5:3307"},
		"mysql://u:p@tcp(10.0.0.5)/k8s":          {"10.0.0.5:3306"},
		"https://e1:2379,https://e2:2380":        {"e1:2379", "e2:2380"},
		"http://[fd00::1]":                       {"[fd00::1]:2379"},
		"sqlite:///var/lib/edgeos/state.db?x=1":  nil,
		"mysql://u:p@unix(/run/mysqld.sock)/k8s": nil,
	} {
		got, err := probeAddrs(ep)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("probeAddrs(%q) = %v, %v; want %v", ep, got, err, want)
		}
	}
	for _, bad := range []string{"db.example:5432", "redis://x"} {
		if _, err := probeAddrs(bad); err == nil {
			t.Errorf("probeAddrs(%q) accepted an endpoint kine cannot use", bad)
		}
	}
}

func TestProbeUnreachable(t *testing.T) {
	// a port that was just free: nothing listens there
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = probe(context.Background(), "postgres://u:secret@"+addr+"/db", 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("probe of a closed port: %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestProbeReachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := probe(context.Background(), "postgres://u:p@"+ln.Addr().String()+"/db", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
