package kubeletconfig

import (
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

func TestRenderIsSecureAndComplete(t *testing.T) {
	b, err := Render(Node{
		ClientCAFile: "/d/client-ca.crt", ServingCertFile: "/d/s.crt", ServingKeyFile: "/d/s.key",
		RuntimeEndpoint: "/run/edgeos/containerd/containerd.sock", CgroupDriver: "cgroupfs",
		ClusterDNS: "10.43.0.10", ClusterDomain: "cluster.local", PodLogsDir: "/var/log/pods", ResolvConf: "/etc/resolv.conf",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatalf("rendered config does not read back strictly: %v\n%s", err, b)
	}
	switch {
	case got.Kind != "KubeletConfiguration" || got.APIVersion != "kubelet.config.k8s.io/v1beta1":
		t.Errorf("type %s/%s", got.APIVersion, got.Kind)
	case *got.Authentication.Anonymous.Enabled || !*got.Authentication.Webhook.Enabled || got.Authorization.Mode != "Webhook":
		t.Error("kubelet API not locked down: anonymous on or webhook off")
	case got.ReadOnlyPort != 0:
		t.Error("read-only port open")
	case *got.FailCgroupV1:
		t.Error("cgroup v1 hosts refused")
	case *got.SerializeImagePulls || *got.MaxParallelImagePulls != 3:
		t.Error("image pulls not parallel")
	case got.ContainerRuntimeEndpoint != "unix:///run/edgeos/containerd/containerd.sock":
		t.Errorf("runtime endpoint %s", got.ContainerRuntimeEndpoint)
	case len(got.ClusterDNS) != 1 || got.ClusterDNS[0] != "10.43.0.10" || got.ClusterDomain != "cluster.local":
		t.Errorf("DNS %v %s", got.ClusterDNS, got.ClusterDomain)
	case got.TLSCertFile != "/d/s.crt" || got.Authentication.X509.ClientCAFile != "/d/client-ca.crt":
		t.Error("certificates not wired")
	}
}
