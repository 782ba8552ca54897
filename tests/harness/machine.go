package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// machineScript makes the node's mount namespace: a private /run (so pod
// network namespaces, containerd's state and sockets stay the node's own)
// and /var/log (for the kubelet's pod logs; mounting on a directory the host
// already has creates nothing there), a sysfs of the node's network
// namespace, and the host's cgroup tree moved back on top of it. Then it
// holds the namespace open.
const machineScript = `
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /var/log
mkdir /run/.cgroup
mount --rbind /sys/fs/cgroup /run/.cgroup
mount -t sysfs sysfs /sys
mount --move /run/.cgroup /sys/fs/cgroup
rmdir /run/.cgroup
exec sleep infinity
`

func (n *Node) startMachine() {
	n.c.t.Helper()
	cmd := exec.Command("nsenter", "--net=/run/netns/"+n.NetNS, "--", "unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", machineScript)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := os.Create(filepath.Join(n.Dir, "machine.log"))
	if err != nil {
		n.c.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.c.t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	n.holder = cmd.Process.Pid
	// the script ends in exec sleep once every mount is made
	deadline := time.Now().Add(30 * time.Second)
	for {
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(n.holder) + "/comm")
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(n.Dir, "machine.log"))
			n.c.t.Fatalf("node %s: making its mount namespace failed: %s", n.Name, b)
		}
		if strings.TrimSpace(string(comm)) == "sleep" {
			return
		}
		if time.Now().After(deadline) {
			n.c.t.Fatalf("node %s: mount namespace not ready", n.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NodeFlags are the flags every edgeos server or agent in the harness
// needs: its name and address, and a cgroup root of its own for the kubelet
// (see CgroupRoot).
func (n *Node) NodeFlags() []string {
	n.c.t.Helper()
	return []string{"--node-name", n.Name, "--node-ip", n.IP, "--kubelet-arg", "cgroup-root=" + n.CgroupRoot()}
}

// CgroupRoot is the node's own cgroup root for its kubelet (made here,
// removed with the cluster), so that kubelets on one host never share one.
func (n *Node) CgroupRoot() string {
	n.c.t.Helper()
	root := n.c.CgroupParent() + "/" + n.Name
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	hierarchies = append(hierarchies, "/sys/fs/cgroup")
	for _, h := range hierarchies {
		if st, err := os.Stat(filepath.Join(h, "cgroup.procs")); err == nil && !st.IsDir() {
			if err := os.MkdirAll(filepath.Join(h, root), 0o755); err != nil {
				n.c.t.Fatalf("cgroup root for node %s: %v", n.Name, err)
			}
		}
	}
	return root
}

// enter is the command prefix that runs a program on the node.
func (n *Node) enter() []string {
	return []string{"nsenter", "--target", strconv.Itoa(n.holder), "--mount", "--net", "--"}
}

// Path is where the test process finds a file as the node sees it (its
// private /run, for example).
func (n *Node) Path(p string) string {
	return "/proc/" + strconv.Itoa(n.holder) + "/root" + p
}

// killNetNS kills every process inside a network namespace: the node's
// edgeos, containerd, shims, containers and the namespace holder.
func killNetNS(ns string) {
	for i := 0; i < 50; i++ {
		pids := netnsPIDs(ns)
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroups kills every process in the cgroups matching pattern (a path
// below a hierarchy's root; pods and containers live there, in network
// namespaces of their own) and removes those cgroups from every mounted
// hierarchy, deepest first.
func removeCgroups(pattern string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	var dirs []string
	for _, root := range roots {
		tops, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, top := range tops {
			_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
		}
	}
	for i := 0; i < 50; i++ {
		alive := false
		for _, d := range dirs {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					alive = true
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if !alive {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = syscall.Rmdir(d)
	}
}

// PIDs are the processes in the node's network namespace: edgeos,
// containerd, shims, and whatever else runs on the node, but not the
// containers, which have namespaces of their own.
func (n *Node) PIDs() []string { return netnsPIDs(n.NetNS) }

func netnsPIDs(ns string) []string {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	return strings.Fields(string(out))
}
