package harness

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerDir holds one file per live cluster, named by its id and holding
// the pid of the test process that owns it, so that RemoveStale in one run
// leaves alone the clusters of another run on the same machine (a bench
// beside the tests, say).
const ownerDir = "/run/edgeos-harness"

func claimOwnership(id string) error {
	if err := os.MkdirAll(ownerDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ownerDir, id), []byte(strconv.Itoa(os.Getpid())), 0o600)
}

func releaseOwnership(id string) { _ = os.Remove(filepath.Join(ownerDir, id)) }

// clusterID reads the cluster id out of a harness name (netns, link or
// cgroup): Prefix, then six hex digits.
func clusterID(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok || len(rest) < 6 {
		return "", false
	}
	if _, err := hex.DecodeString(rest[:6]); err != nil {
		return "", false
	}
	return rest[:6], true
}

// stale reports whether name belongs to a cluster whose test process is
// gone.
func stale(name string) bool {
	id, ok := clusterID(name)
	if !ok {
		return false
	}
	b, err := os.ReadFile(filepath.Join(ownerDir, id))
	if err != nil {
		return true
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		releaseOwnership(id)
		return true
	}
	return false
}
