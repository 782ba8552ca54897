// Package harness runs edgeos nodes for integration tests. A node is a
// small machine of its own: a network namespace joined to the host by a
// bridge on an address range reserved for benchmarking (198.18.0.0/15),
// with no default route, so nothing it sends can leave the machine; and a
// mount namespace that lives as long as the node, with a private /run and
// the host's cgroup tree visible (as `ip netns exec` would hide it). Every
// process, namespace, link and cgroup is removed when the test ends, failed
// or not.
package harness

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Prefix starts the name of every namespace and link the harness makes.
const Prefix = "eos"

// Binary is the edgeos binary under test: $EDGEOS_BIN, or bin/edgeos at the
// top of the repository (the first directory up that has a go.mod and a
// Makefile: test modules of their own, as tests/e2e, sit below it).
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("EDGEOS_BIN"); b != "" {
		return b
	}
	wd, _ := os.Getwd()
	for dir := wd; dir != "/"; dir = filepath.Dir(dir) {
		if !exists(filepath.Join(dir, "go.mod")) || !exists(filepath.Join(dir, "Makefile")) {
			continue
		}
		b := filepath.Join(dir, "bin", "edgeos")
		if !exists(b) {
			t.Fatalf("edgeos binary %s missing: run 'make build' (or set EDGEOS_BIN)", b)
		}
		return b
	}
	t.Fatal("cannot find the repository root")
	return ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Cluster is a set of nodes on one bridge.
type Cluster struct {
	t      testing.TB
	id     string
	bridge string
	subnet string // "198.18.N"
	bin    string
	dir    string
	nodes  []*Node
}

// New creates the bridge; nodes are added with AddNode.
func New(t testing.TB) *Cluster {
	t.Helper()
	requireRoot(t)
	// The scratch dir is made before the cleanup is registered, so that it
	// still exists when the cleanup dumps the logs of a failed test.
	c := &Cluster{t: t, id: randomID(), bin: Binary(t), dir: t.TempDir()}
	c.bridge = Prefix + c.id + "br"
	c.subnet = freeSubnet(t)
	if err := claimOwnership(c.id); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cleanup)
	c.must("ip", "link", "add", c.bridge, "type", "bridge")
	c.must("ip", "addr", "add", c.subnet+".1/24", "dev", c.bridge)
	c.must("ip", "link", "set", c.bridge, "up")
	return c
}

// HostIP is the host's address on the cluster bridge.
func (c *Cluster) HostIP() string { return c.subnet + ".1" }

// AddNode makes a network namespace with a link to the bridge and an
// address; the node is not started.
func (c *Cluster) AddNode(name string) *Node {
	c.t.Helper()
	i := len(c.nodes) + 2
	n := &Node{
		c:     c,
		Name:  name,
		NetNS: fmt.Sprintf("%s%s-%d", Prefix, c.id, i),
		IP:    fmt.Sprintf("%s.%d", c.subnet, i),
		Dir:   c.t.TempDir(),
		Bin:   c.bin,
	}
	n.DataDir = filepath.Join(n.Dir, "data")
	n.Kubeconfig = filepath.Join(n.Dir, "kubeconfig.yaml")
	c.nodes = append(c.nodes, n)
	host := fmt.Sprintf("%s%s-%dh", Prefix, c.id, i)
	c.must("ip", "netns", "add", n.NetNS)
	c.must("ip", "-n", n.NetNS, "link", "set", "lo", "up")
	c.must("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", n.NetNS)
	c.must("ip", "link", "set", host, "master", c.bridge, "up")
	c.must("ip", "-n", n.NetNS, "addr", "add", n.IP+"/24", "dev", "eth0")
	c.must("ip", "-n", n.NetNS, "link", "set", "eth0", "up")
	n.startMachine()
	return n
}

// CgroupParent is where a test puts cgroups it creates itself; the cleanup
// removes it under every controller.
func (c *Cluster) CgroupParent() string { return "/" + Prefix + c.id }

func (c *Cluster) cleanup() {
	for _, n := range c.nodes {
		n.kill()
		if c.t.Failed() {
			n.dumpLog()
		}
	}
	for _, n := range c.nodes {
		killNetNS(n.NetNS)
		_ = exec.Command("ip", "netns", "delete", n.NetNS).Run()
	}
	_ = exec.Command("ip", "link", "delete", c.bridge).Run()
	removeCgroups(c.CgroupParent())
	releaseOwnership(c.id)
}

func (c *Cluster) must(args ...string) {
	c.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// freeSubnet picks a 198.18.N.0/24 that no route on the host uses.
func freeSubnet(t testing.TB) string {
	out, err := exec.Command("ip", "-4", "route", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for tries := 0; tries < 50; tries++ {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		subnet := fmt.Sprintf("198.18.%d", 1+int(b[0])%250)
		if !bytes.Contains(out, []byte(subnet+".0/24")) {
			return subnet
		}
	}
	t.Fatal("no free 198.18.N.0/24 subnet")
	return ""
}

func randomID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Fatal("integration tests create network namespaces and must run as root")
	}
}

// RemoveStale deletes processes, namespaces, links and cgroups left by a
// harness run that was killed before it could clean up; those of clusters
// whose test process still runs are left alone.
func RemoveStale() {
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && stale(f[0]) {
				killNetNS(f[0])
				_ = exec.Command("ip", "netns", "delete", f[0]).Run()
			}
		}
	}
	for _, root := range []string{"/sys/fs/cgroup/*", "/sys/fs/cgroup"} {
		dirs, _ := filepath.Glob(filepath.Join(root, Prefix+"*"))
		for _, d := range dirs {
			if stale(filepath.Base(d)) {
				removeCgroups("/" + filepath.Base(d))
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if len(name) > len(Prefix)+6 && stale(name) {
				_ = exec.Command("ip", "link", "delete", name).Run()
			}
		}
	}
}
