package server

import (
	"strconv"
	"strings"

	"github.com/edgeos/edgeos/pkg/datastore"
)

// Upstream flags for the three control-plane components. Only what edgeos
// decides is set; everything else keeps the upstream default.

func (s *Server) apiserverArgs(ds *datastore.Datastore) map[string]string {
	c, cfg := s.certs, s.cfg
	issuer := "https://kubernetes.default.svc." + cfg.ClusterDomain
	args := map[string]string{
		"advertise-address":             cfg.AdvertiseAddress,
		"allow-privileged":              "true",
		"anonymous-auth":                "false",
		"authorization-mode":            "Node,RBAC",
		"enable-admission-plugins":      "NodeRestriction",
		"bind-address":                  cfg.BindAddress,
		"secure-port":                   strconv.Itoa(cfg.HTTPSListenPort),
		"client-ca-file":                c.clientCA.CertFile,
		"tls-cert-file":                 c.crt("serving-kube-apiserver"),
		"tls-private-key-file":          c.key("serving-kube-apiserver"),
		"kubelet-client-certificate":    c.crt("client-kube-apiserver"),
		"kubelet-client-key":            c.key("client-kube-apiserver"),
		"kubelet-certificate-authority": c.kubeletCA.CertFile,
		// reach kubelets by address: node names need not resolve at the edge
		"kubelet-preferred-address-types":    "InternalIP,ExternalIP,Hostname",
		"proxy-client-cert-file":             c.crt("client-auth-proxy"),
		"proxy-client-key-file":              c.key("client-auth-proxy"),
		"requestheader-client-ca-file":       c.requestHeaderCA.CertFile,
		"requestheader-allowed-names":        "system:auth-proxy",
		"requestheader-username-headers":     "X-Remote-User",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"service-account-issuer":             issuer,
		"api-audiences":                      issuer,
		"service-account-key-file":           c.serviceAccountKey(),
		"service-account-signing-key-file":   c.serviceAccountKey(),
		"service-cluster-ip-range":           cfg.ServiceCIDR,
		"etcd-servers":                       strings.Join(ds.Endpoints(), ","),
		"storage-backend":                    "etcd3",
		"profiling":                          "false",
		"encryption-provider-config":         s.paths.encryption(),
		// the file changes while the server runs: edgeos secrets-encrypt
		"encryption-provider-config-automatic-reload": "true",
	}
	if ds.Embedded() {
		// One server on its own SQLite. The lease reconciler would rewrite
		// this server's lease for the kubernetes Service every 10 s; the
		// count reconciler (one apiserver: --apiserver-count's default,
		// and that deprecated flag is left out) writes only when the
		// address changes. Servers sharing an external datastore keep
		// leases.
		args["endpoint-reconciler-type"] = "master-count"
	}
	// The peer proxy serves mixed-version servers only with a peer CA,
	// which edgeos does not set up; its endpoint Lease would still be
	// rewritten every 10 s.
	args["feature-gates"] = "UnknownVersionInteroperabilityProxy=false"
	if ds := cfg.Datastore; ds.Endpoint != "" && strings.HasPrefix(ds.Endpoint, "https://") {
		// an external etcd is handed to the apiserver as is; kine only passes it through
		args["etcd-cafile"], args["etcd-certfile"], args["etcd-keyfile"] = ds.CAFile, ds.CertFile, ds.KeyFile
	}
	return s.withVerbosity(args)
}

// withVerbosity adds -v to a component's flags when it is asked for: the
// components share klog, and each applies its own -v.
func (s *Server) withVerbosity(args map[string]string) map[string]string {
	if s.cfg.Verbosity > 0 {
		args["v"] = strconv.Itoa(s.cfg.Verbosity)
	}
	return args
}

func (s *Server) controllerManagerArgs(ds *datastore.Datastore) map[string]string {
	c, cfg := s.certs, s.cfg
	return s.withVerbosity(map[string]string{
		"kubeconfig":   s.paths.kubeconfig("controller"),
		"leader-elect": strconv.FormatBool(!ds.Embedded()),
		"secure-port":  "0",
		"profiling":    "false",
		"controllers":  "*,tokencleaner",
		// Upstream's client rate limit (20/s, burst 30) throttles the
		// discovery and set-up of its controllers at start: node IPAM, and
		// so the node's Ready, came 5 s later than with this (bench/RESULTS.md).
		"kube-api-qps":                     "50",
		"kube-api-burst":                   "100",
		"use-service-account-credentials":  "true",
		"service-account-private-key-file": c.serviceAccountKey(),
		"root-ca-file":                     c.serverCA.CertFile,
		"allocate-node-cidrs":              "true",
		"cluster-cidr":                     cfg.ClusterCIDR,
		"service-cluster-ip-range":         cfg.ServiceCIDR,
		"configure-cloud-routes":           "false",
		// CSR API signers: node client certs from the client CA, node
		// serving certs from the kubelet CA, as the bootstrap API does.
		"cluster-signing-kubelet-client-cert-file":        c.clientCA.CertFile,
		"cluster-signing-kubelet-client-key-file":         c.clientCA.KeyFile,
		"cluster-signing-kube-apiserver-client-cert-file": c.clientCA.CertFile,
		"cluster-signing-kube-apiserver-client-key-file":  c.clientCA.KeyFile,
		"cluster-signing-kubelet-serving-cert-file":       c.kubeletCA.CertFile,
		"cluster-signing-kubelet-serving-key-file":        c.kubeletCA.KeyFile,
	})
}

func (s *Server) schedulerArgs(ds *datastore.Datastore) map[string]string {
	return s.withVerbosity(map[string]string{
		"kubeconfig":   s.paths.kubeconfig("scheduler"),
		"leader-elect": strconv.FormatBool(!ds.Embedded()),
		"secure-port":  "0",
		"profiling":    "false",
	})
}
