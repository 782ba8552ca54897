package footprint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	edgeoscontainerd "github.com/edgeos/edgeos/pkg/containerd"
	"github.com/edgeos/edgeos/pkg/images"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/pause"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/tests/harness"
	testimages "github.com/edgeos/edgeos/tests/images"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// Vanilla Kubernetes as a kubeadm-style single node would run it, minus
// kubeadm: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kubelet and kube-proxy as separate processes with upstream defaults
// except what a working node needs (certificates, addresses, paths);
// containerd with its default config but for paths; the reference CNI
// plugins (bridge, host-local, loopback, portmap). No cluster DNS runs (a
// kubeadm cluster would add two CoreDNS pods), which only flatters vanilla.
// The programs come from $BENCH_VANILLA, which bench/footprint.sh fills:
//
//	vanilla, and links to it named etcd and after each component
//	containerd, containerd-shim-runc-v2, runc (what edgeos embeds)
//	cni/bridge, cni/host-local, cni/loopback, cni/portmap
const (
	vanillaClusterCIDR = "10.42.0.0/16"
	vanillaPodCIDR     = "10.42.0.0/24"
	vanillaServiceCIDR = "10.43.0.0/16"
	vanillaAPIService  = "10.43.0.1"
	vanillaDNS         = "10.43.0.10"
	// inside the node's private /run; the test reaches it through Path
	vanillaContainerdState = "/run/vanilla/containerd"
)

func runVanilla(b *testing.B, p params) run {
	c := harness.New(b)
	n := c.AddNode("vanilla")
	bin := func(name string) string { return filepath.Join(p.vanilla, name) }
	dir := func(elem ...string) string {
		d := filepath.Join(append([]string{n.DataDir}, elem...)...)
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.Fatal(err)
		}
		return d
	}
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}

	// certificates and kubeconfigs, one CA for all
	pkiDir := dir("pki")
	ca, err := pki.EnsureCA(pkiDir, "ca", "vanilla-ca")
	must(err)
	saKey := filepath.Join(pkiDir, "sa.key")
	must(pki.EnsureKey(saKey))
	leaf := func(name string, l pki.Leaf) (string, string) {
		crt, key := filepath.Join(pkiDir, name+".crt"), filepath.Join(pkiDir, name+".key")
		_, err := ca.EnsureLeaf(crt, key, l, pki.LeafValidity)
		must(err)
		return crt, key
	}
	server := "https://" + n.IP + ":6443"
	kubecfg := func(name string, l pki.Leaf) string {
		crt, key := leaf(name, l)
		path := filepath.Join(pkiDir, name+".kubeconfig")
		must(kubeconfig.Write(path, 0o600, kubeconfig.Spec{Server: server, CAFile: ca.CertFile, CertFile: crt, KeyFile: key}))
		return path
	}
	servingCrt, servingKey := leaf("apiserver", pki.Leaf{CommonName: "kube-apiserver", Server: true,
		DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
		IPs:      []net.IP{net.ParseIP(n.IP), net.ParseIP(vanillaAPIService), net.ParseIP("127.0.0.1")}})
	kubeletClientCrt, kubeletClientKey := leaf("apiserver-kubelet-client", pki.Leaf{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}})
	admin := kubecfg("admin", pki.Leaf{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}})
	must(os.Link(admin, n.Kubeconfig))
	controllerManager := kubecfg("controller-manager", pki.Leaf{CommonName: "system:kube-controller-manager"})
	scheduler := kubecfg("scheduler", pki.Leaf{CommonName: "system:kube-scheduler"})
	kubelet := kubecfg("kubelet", pki.Leaf{CommonName: "system:node:" + n.Name, Organization: []string{"system:nodes"}})
	proxy := kubecfg("kube-proxy", pki.Leaf{CommonName: "system:kube-proxy"})

	start := time.Now()
	n.Background(bin("etcd"), "--data-dir", dir("etcd"))
	n.Background(bin("kube-apiserver"),
		"--advertise-address", n.IP,
		"--allow-privileged=true",
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--client-ca-file", ca.CertFile,
		"--tls-cert-file", servingCrt, "--tls-private-key-file", servingKey,
		"--kubelet-client-certificate", kubeletClientCrt, "--kubelet-client-key", kubeletClientKey,
		"--kubelet-preferred-address-types", "InternalIP",
		"--etcd-servers", "http://127.0.0.1:2379",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saKey, "--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", vanillaServiceCIDR)
	// as static pods under kubeadm would be restarted until the apiserver
	// has made its RBAC roles, these start once it is ready
	cs := n.WaitReady()
	n.Background(bin("kube-controller-manager"),
		"--kubeconfig", controllerManager,
		"--authentication-kubeconfig", controllerManager, "--authorization-kubeconfig", controllerManager,
		"--bind-address", "127.0.0.1",
		"--allocate-node-cidrs", "--cluster-cidr", vanillaClusterCIDR, "--service-cluster-ip-range", vanillaServiceCIDR,
		"--cluster-signing-cert-file", ca.CertFile, "--cluster-signing-key-file", ca.KeyFile,
		"--root-ca-file", ca.CertFile, "--service-account-private-key-file", saKey,
		"--use-service-account-credentials", "--controllers", "*,bootstrapsigner,tokencleaner")
	n.Background(bin("kube-scheduler"), "--kubeconfig", scheduler,
		"--authentication-kubeconfig", scheduler, "--authorization-kubeconfig", scheduler, "--bind-address", "127.0.0.1")

	// containerd, then the images the node needs, imported as edgeos does
	sys, err := edgeoscontainerd.HasSysResource()
	must(err)
	cniConf := dir("cni", "net.d")
	ctrdConf := filepath.Join(dir("containerd"), "config.toml")
	must(os.WriteFile(ctrdConf, []byte(fmt.Sprintf(`version = 3
root = %q
state = %q
[grpc]
  address = %q
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = %q
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = %t
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  runtime_path = %q
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = %q
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [%q]
  conf_dir = %q
`, dir("containerd", "root"), vanillaContainerdState, vanillaContainerdState+"/containerd.sock", pause.Image, !sys,
		bin("containerd-shim-runc-v2"), bin("runc"), bin("cni"), cniConf)), 0o600))
	n.Background(bin("containerd"), "--config", ctrdConf)
	importImages(b, n.Path(vanillaContainerdState+"/containerd.sock"), pause.Archive, testimages.Build(b, "echo"))

	conflist, _ := json.Marshal(map[string]any{
		"cniVersion": "1.0.0", "name": "vanilla",
		"plugins": []map[string]any{
			{"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
				"ipam": map[string]any{"type": "host-local", "ranges": [][]map[string]string{{{"subnet": vanillaPodCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}}, "dataDir": dir("cni", "ipam")}},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	})
	must(os.WriteFile(filepath.Join(cniConf, "10-vanilla.conflist"), conflist, 0o600))

	no, yes := false, true
	kubeletConf, err := yaml.Marshal(kubeletv1beta1.KubeletConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		Authentication: kubeletv1beta1.KubeletAuthentication{
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: &no},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: &yes},
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: ca.CertFile},
		},
		Authorization:            kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		ContainerRuntimeEndpoint: "unix://" + vanillaContainerdState + "/containerd.sock",
		CgroupDriver:             "cgroupfs",
		CgroupRoot:               n.CgroupRoot(),
		// what this machine needs (cgroup v1, swap), as for edgeos's kubelet
		FailCgroupV1:  &no,
		FailSwapOn:    &no,
		ClusterDNS:    []string{vanillaDNS},
		ClusterDomain: "cluster.local",
	})
	must(err)
	kubeletConfFile := filepath.Join(dir("kubelet"), "config.yaml")
	must(os.WriteFile(kubeletConfFile, kubeletConf, 0o600))
	n.Background(bin("kubelet"), "--config", kubeletConfFile, "--kubeconfig", kubelet,
		"--hostname-override", n.Name, "--node-ip", n.IP, "--root-dir", dir("kubelet", "root"), "--cert-dir", dir("kubelet", "pki"))
	n.Background(bin("kube-proxy"), "--kubeconfig", proxy, "--hostname-override", n.Name, "--cluster-cidr", vanillaClusterCIDR)

	r := run{name: "vanilla single node"}
	waitNodeReady(b, cs, n.Name)
	r.ready = time.Since(start)
	waitServiceAccount(b, cs)
	runIdlePods(b, cs, n.Name)
	r.idle = measureIdle(b, n, inDirOrIs(p.vanilla), p.settle, p.idle, filepath.Join(n.DataDir, "etcd", "member", "wal"), filepath.Join(n.DataDir, "etcd", "member", "snap", "db"))
	r.podStart = podStartLatencies(b, cs, n.Name, p.startPods)
	r.creates, r.lists = apiLatencies(b, n, p.configMaps, p.lists)
	return r
}

// importImages waits for containerd's socket and imports the archives.
func importImages(b *testing.B, sock string, archives ...[]byte) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("containerd's socket %s did not appear", sock)
		}
		time.Sleep(100 * time.Millisecond)
	}
	client, err := containerd.New(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	for _, a := range archives {
		if _, err := images.Import(context.Background(), client, bytes.NewReader(a)); err != nil {
			b.Fatal(err)
		}
	}
}
