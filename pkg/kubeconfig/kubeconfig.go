// Package kubeconfig writes the kubeconfig files edgeos hands to its own
// components and to the admin, and connects with them.
package kubeconfig

import (
	"bytes"
	"fmt"
	"os"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/pki"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Spec says who connects where.
type Spec struct {
	Server   string
	CAFile   string
	CertFile string
	KeyFile  string
	// Embed puts the certificates into the file instead of naming them, so
	// that it can be copied to another machine.
	Embed bool
}

// Write renders spec to path with the given mode. A file that already
// holds exactly that is left alone (no write to flash).
func Write(path string, mode os.FileMode, spec Spec) error {
	cluster := &clientcmdapi.Cluster{Server: spec.Server, CertificateAuthority: spec.CAFile}
	user := &clientcmdapi.AuthInfo{ClientCertificate: spec.CertFile, ClientKey: spec.KeyFile}
	if spec.Embed {
		var err error
		read := func(f string) []byte {
			if err != nil {
				return nil
			}
			var b []byte
			b, err = os.ReadFile(f)
			return b
		}
		cluster = &clientcmdapi.Cluster{Server: spec.Server, CertificateAuthorityData: read(spec.CAFile)}
		user = &clientcmdapi.AuthInfo{ClientCertificateData: read(spec.CertFile), ClientKeyData: read(spec.KeyFile)}
		if err != nil {
			return err
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["default"] = cluster
	cfg.AuthInfos["default"] = user
	cfg.Contexts["default"] = &clientcmdapi.Context{Cluster: "default", AuthInfo: "default"}
	cfg.CurrentContext = "default"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm() == mode.Perm() {
			return nil
		}
	}
	return pki.WriteFile(path, b, mode)
}

// Client connects to the API with the kubeconfig at path, with client-go's
// default request rate limit (5/s, bursts of 10). The transport
// client-go builds for it, and keeps for every client with the same
// credentials, is the process's (component.Shared).
func Client(path string) (kubernetes.Interface, error) {
	return ClientWithRate(path, 0, 0)
}

// ClientWithRate is Client with the given request rate limit (0: client-go's
// default), for a command that goes through many objects.
func ClientWithRate(path string, qps float32, burst int) (kubernetes.Interface, error) {
	rc, err := load(path)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = qps, burst
	var cs kubernetes.Interface
	component.Shared(func() { cs, err = kubernetes.NewForConfig(rc) })
	return cs, err
}

// Clients are the connections of a controller that handles objects of any
// kind.
type Clients struct {
	REST    *rest.Config
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
	// Discovery tells which kinds the API serves.
	Discovery discovery.DiscoveryInterface
}

// Connect makes every kind of client for the kubeconfig at path, with
// client-go's default request rate limit, on the process's transports
// (as Client).
func Connect(path string) (Clients, error) {
	rc, err := load(path)
	if err != nil {
		return Clients{}, err
	}
	c := Clients{REST: rc}
	component.Shared(func() {
		if c.Typed, err = kubernetes.NewForConfig(rc); err != nil {
			return
		}
		if c.Dynamic, err = dynamic.NewForConfig(rc); err != nil {
			return
		}
		c.Discovery, err = discovery.NewDiscoveryClientForConfig(rc)
	})
	return c, err
}

func load(path string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return rc, nil
}
