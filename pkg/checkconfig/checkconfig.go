// Package checkconfig tells whether a host can run an edgeos node: kernel
// features, cgroup controllers and the programs a node needs, each in plain
// words with what to do about it.
package checkconfig

import (
	"fmt"
	"io"
	"strings"
)

// Severity is how much a finding matters.
type Severity int

const (
	// OK: present.
	OK Severity = iota
	// Warn: the node runs, but something users expect will not work.
	Warn
	// Missing: the node cannot run.
	Missing
)

func (s Severity) String() string {
	return [...]string{"ok", "warning", "MISSING"}[s]
}

// Finding is the result of one check.
type Finding struct {
	Check    string
	Severity Severity
	// Detail says what was found, and for a problem, what to do.
	Detail string
}

// Report is every finding about one host.
type Report struct {
	Kernel   string
	Cgroup   string
	Findings []Finding
}

// Missing counts the findings that stop a node.
func (r Report) Missing() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Missing {
			n++
		}
	}
	return n
}

// Write prints the report for people.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "edgeos check-config: kernel %s, %s\n\n", r.Kernel, r.Cgroup)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %-8s %-22s %s\n", f.Severity, f.Check, f.Detail)
	}
	warns := 0
	for _, f := range r.Findings {
		if f.Severity == Warn {
			warns++
		}
	}
	fmt.Fprintln(w)
	switch m := r.Missing(); {
	case m > 0:
		fmt.Fprintf(w, "This host cannot run an edgeos node: %d required item(s) missing.\n", m)
	case warns > 0:
		fmt.Fprintf(w, "This host can run an edgeos node, with %d warning(s).\n", warns)
	default:
		fmt.Fprintln(w, "This host can run an edgeos node.")
	}
}

// Check examines the host.
func Check(h Host) Report {
	r := Report{Kernel: h.kernelRelease()}
	c := &checker{h: h, r: &r}
	c.kernel()
	c.namespaces()
	c.cgroups()
	c.filesystems()
	c.networking()
	c.programs()
	c.swap()
	return r
}

type checker struct {
	h Host
	r *Report
}

func (c *checker) add(check string, sev Severity, format string, args ...any) {
	c.r.Findings = append(c.r.Findings, Finding{Check: check, Severity: sev, Detail: fmt.Sprintf(format, args...)})
}

// kernel needs 4.15 or newer: cgroup v2 essentials and the overlay and
// VXLAN features the node relies on.
func (c *checker) kernel() {
	rel := c.r.Kernel
	var major, minor int
	if _, err := fmt.Sscanf(rel, "%d.%d", &major, &minor); err != nil {
		c.add("kernel", Missing, "cannot read the kernel release (%q)", rel)
		return
	}
	if major < 4 || (major == 4 && minor < 15) {
		c.add("kernel", Missing, "Linux %d.%d is too old: edgeos needs 4.15 or newer", major, minor)
		return
	}
	c.add("kernel", OK, "Linux %d.%d", major, minor)
}

func (c *checker) namespaces() {
	var missing []string
	for _, ns := range []string{"mnt", "net", "pid", "ipc", "uts"} {
		if !c.h.exists(c.h.Proc, "self/ns", ns) {
			missing = append(missing, ns)
		}
	}
	if len(missing) > 0 {
		c.add("namespaces", Missing, "kernel lacks %s namespaces (CONFIG_NAMESPACES and friends)", strings.Join(missing, ", "))
		return
	}
	c.add("namespaces", OK, "mnt, net, pid, ipc, uts")
}

// kernelFeature reports one kernel feature: sev is what its absence costs.
func (c *checker) kernelFeature(check, mod, opt string, sev Severity, present, absent string) {
	switch c.h.feature(mod, opt) {
	case Present:
		c.add(check, OK, "%s", present)
	case Absent:
		c.add(check, sev, "the kernel has no %s (%s, module %s): %s", check, opt, mod, absent)
	default:
		c.add(check, Warn, "cannot tell whether the kernel has %s (%s): no kernel config or module index on this host; without it, %s", check, opt, absent)
	}
}

func (c *checker) filesystems() {
	if c.h.hasFilesystem("overlay") {
		c.add("overlay", OK, "image layers can be mounted")
		return
	}
	c.kernelFeature("overlay", "overlay", "CONFIG_OVERLAY_FS", Missing, "image layers can be mounted", "containerd cannot mount image layers")
}

func (c *checker) networking() {
	if c.h.exists(c.h.Proc, "sys/net/bridge/bridge-nf-call-iptables") {
		c.add("br_netfilter", OK, "bridged pod traffic passes through iptables")
	} else {
		c.kernelFeature("br_netfilter", "br_netfilter", "CONFIG_BRIDGE_NETFILTER", Missing,
			"bridged pod traffic passes through iptables", "Service traffic between pods on one node would bypass kube-proxy")
	}
	if c.h.exists(c.h.Proc, "sys/net/netfilter/nf_conntrack_max") {
		c.add("conntrack", OK, "connection tracking for Services and NAT")
	} else {
		c.kernelFeature("conntrack", "nf_conntrack", "CONFIG_NF_CONNTRACK", Missing,
			"connection tracking for Services and NAT", "Services and pod egress NAT cannot work")
	}
	c.kernelFeature("bridge", "bridge", "CONFIG_BRIDGE", Missing, "pods on a node share a bridge", "pods cannot be networked")
	c.kernelFeature("veth", "veth", "CONFIG_VETH", Missing, "pods get virtual ethernet pairs", "pods cannot be networked")
	c.kernelFeature("vxlan", "vxlan", "CONFIG_VXLAN", Warn, "the pod overlay can reach other nodes", "pods can only reach pods on the same node")
	// NetworkPolicy enforcement (pkg/netpol) writes an inet table whose
	// rules match connection tracking state; without either, policies are
	// accepted but not enforced, which the node's log says too.
	c.kernelFeature("nf_tables", "nf_tables", "CONFIG_NF_TABLES", Warn, "NetworkPolicies can be enforced", "NetworkPolicies are accepted but not enforced")
	c.kernelFeature("nft_ct", "nft_ct", "CONFIG_NFT_CT", Warn, "NetworkPolicy rules can let replies pass", "NetworkPolicies are accepted but not enforced")
}

func (c *checker) programs() {
	ipt, errIpt := c.h.lookPath("iptables")
	nft, errNft := c.h.lookPath("nft")
	switch {
	case errIpt == nil:
		c.add("iptables", OK, "%s", ipt)
	case errNft == nil:
		c.add("iptables", Missing, "only nft (%s) is installed; kube-proxy and hostPorts use the iptables program, which may use nft underneath (Debian/Ubuntu: apt-get install iptables)", nft)
	default:
		c.add("iptables", Missing, "iptables is not installed (Debian/Ubuntu: apt-get install iptables): Services and hostPorts cannot work")
	}
	if p, err := c.h.lookPath("mount"); err == nil {
		c.add("mount", OK, "%s", p)
	} else {
		c.add("mount", Missing, "mount(8) is not installed: volumes cannot be mounted")
	}
}

func (c *checker) swap() {
	lines := c.h.lines(c.h.Proc, "swaps")
	if len(lines) > 1 {
		c.add("swap", Warn, "swap is on; the kubelet runs with it, but pods' memory limits are softer than they look")
		return
	}
	c.add("swap", OK, "off")
}
