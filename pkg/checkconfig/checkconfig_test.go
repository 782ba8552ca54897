package checkconfig

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a fake host tree: files by path relative to its root.
type fixture map[string]string

const healthyConfig = "CONFIG_OVERLAY_FS=y\nCONFIG_BRIDGE_NETFILTER=m\nCONFIG_NF_CONNTRACK=m\nCONFIG_BRIDGE=m\nCONFIG_VETH=m\nCONFIG_VXLAN=m\nCONFIG_NF_TABLES=m\nCONFIG_NFT_CT=m\n"

// healthyV2 is a cgroup v2 host with everything a node needs.
func healthyV2() fixture {
	return fixture{
		"proc/sys/kernel/osrelease": "6.6.31+rpt-rpi-v8\n",
		"proc/self/ns/mnt":          "", "proc/self/ns/net": "", "proc/self/ns/pid": "",
		"proc/self/ns/ipc": "", "proc/self/ns/uts": "",
		"proc/filesystems":                 "nodev\tsysfs\nnodev\toverlay\n",
		"proc/swaps":                       "Filename\tType\tSize\tUsed\tPriority\n",
		"proc/config.gz":                   healthyConfig,
		"sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids\n",
		"bin/iptables":                     "#!/bin/sh\n", "bin/mount": "#!/bin/sh\n",
	}
}

func (f fixture) host(t *testing.T) Host {
	t.Helper()
	root := t.TempDir()
	for path, content := range f {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if strings.HasSuffix(path, ".gz") {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			data = b.Bytes()
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(path, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	return Host{Proc: filepath.Join(root, "proc"), Sys: filepath.Join(root, "sys"), Modules: filepath.Join(root, "lib/modules"),
		Boot: filepath.Join(root, "boot"), Path: []string{filepath.Join(root, "bin")}}
}

func finding(t *testing.T, r Report, check string) Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no finding %q in %+v", check, r.Findings)
	return Finding{}
}

func TestHealthyHost(t *testing.T) {
	r := Check(healthyV2().host(t))
	for _, f := range r.Findings {
		if f.Severity != OK {
			t.Errorf("healthy host: %s is %s: %s", f.Check, f.Severity, f.Detail)
		}
	}
	if r.Cgroup != "cgroup v2" {
		t.Errorf("cgroup %q", r.Cgroup)
	}
	var out bytes.Buffer
	r.Write(&out)
	if !strings.Contains(out.String(), "This host can run an edgeos node.") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestPiWithMemoryCgroupOff(t *testing.T) {
	f := healthyV2()
	delete(f, "sys/fs/cgroup/cgroup.controllers")
	f["proc/cgroups"] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" +
		"cpuset\t2\t1\t1\ncpu\t3\t1\t1\ncpuacct\t3\t1\t1\nmemory\t0\t1\t0\ndevices\t4\t1\t1\nfreezer\t5\t1\t1\npids\t6\t1\t1\n"
	r := Check(f.host(t))
	got := finding(t, r, "cgroup controllers")
	if got.Severity != Missing || !strings.Contains(got.Detail, "cgroup_memory=1 cgroup_enable=memory") {
		t.Fatalf("memory cgroup off: %+v", got)
	}
	if r.Cgroup != "cgroup v1" || r.Missing() != 1 {
		t.Fatalf("cgroup %q, %d missing", r.Cgroup, r.Missing())
	}
}

func TestKernelFeaturesFromModuleIndex(t *testing.T) {
	f := healthyV2()
	delete(f, "proc/config.gz")
	f["lib/modules/6.6.31+rpt-rpi-v8/modules.dep"] = "kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv4/udp_tunnel.ko.xz\n" +
		"kernel/net/bridge/bridge.ko.xz:\nkernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n" +
		"kernel/net/netfilter/nf_conntrack.ko.xz:\n"
	r := Check(f.host(t))
	if got := finding(t, r, "vxlan"); got.Severity != OK {
		t.Errorf("vxlan listed in modules.dep: %+v", got)
	}
	if got := finding(t, r, "veth"); got.Severity != Missing {
		t.Errorf("veth in neither index nor config: %+v", got)
	}
}

func TestNoNFTables(t *testing.T) {
	f := healthyV2()
	f["proc/config.gz"] = strings.Replace(healthyConfig, "CONFIG_NF_TABLES=m\n", "# CONFIG_NF_TABLES is not set\n", 1)
	r := Check(f.host(t))
	got := finding(t, r, "nf_tables")
	if got.Severity != Warn || !strings.Contains(got.Detail, "not enforced") {
		t.Fatalf("no nf_tables: %+v", got)
	}
	if r.Missing() != 0 {
		t.Fatalf("%d missing: a node without nf_tables still runs", r.Missing())
	}
}

func TestUnknownIsNotMissing(t *testing.T) {
	f := healthyV2()
	delete(f, "proc/config.gz")
	r := Check(f.host(t))
	got := finding(t, r, "veth")
	if got.Severity != Warn || !strings.Contains(got.Detail, "cannot tell") {
		t.Fatalf("no config and no module index: %+v", got)
	}
	if r.Missing() != 0 {
		t.Fatalf("%d missing on a host that may well be fine", r.Missing())
	}
}

func TestProgramsAndKernelAndSwap(t *testing.T) {
	f := healthyV2()
	delete(f, "bin/iptables")
	f["bin/nft"] = "#!/bin/sh\n"
	if got := finding(t, Check(f.host(t)), "iptables"); got.Severity != Missing || !strings.Contains(got.Detail, "only nft") {
		t.Errorf("nft alone cannot do: kube-proxy runs the iptables program: %+v", got)
	}
	delete(f, "bin/nft")
	delete(f, "bin/runc") // edgeos carries its own
	f["proc/sys/kernel/osrelease"] = "4.9.0\n"
	f["proc/swaps"] += "/swapfile\tfile\t1024\t0\t-2\n"
	r := Check(f.host(t))
	for check, want := range map[string]Severity{"iptables": Missing, "kernel": Missing, "swap": Warn} {
		if got := finding(t, r, check); got.Severity != want {
			t.Errorf("%s: %+v, want %s", check, got, want)
		}
	}
	var out bytes.Buffer
	r.Write(&out)
	if !strings.Contains(out.String(), "cannot run an edgeos node: 2 required item(s) missing") {
		t.Errorf("report:\n%s", out.String())
	}
}
