package ingress

import (
	"crypto/tls"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// CertificatesSecret, in kube-system, holds the certificates the proxies
// serve: those of the Secrets that Ingresses of class edgeos name. Nodes
// may read this one Secret, and so no other: a node serves these keys in
// any case, and a node taken from its site gives away nothing more.
const CertificatesSecret = "edgeos-ingress-certificates"

// maxCertificateBytes keeps the copy under the API's object size limit.
const maxCertificateBytes = 900 << 10

// usableCerts parses the TLS Secrets that the Ingresses name, by
// namespace/name; a named Secret that is missing or holds no certificate
// is left out (Build reports it). pairs are the PEM files of the usable
// ones, for the copy.
func usableCerts(ours []*networkingv1.Ingress, secrets map[string]*corev1.Secret) (certs map[string]*tls.Certificate, pairs map[string][2][]byte) {
	certs, pairs = map[string]*tls.Certificate{}, map[string][2][]byte{}
	for _, ing := range ours {
		for _, t := range ing.Spec.TLS {
			k := ing.Namespace + "/" + t.SecretName
			s := secrets[k]
			if s == nil || s.Type != corev1.SecretTypeTLS || certs[k] != nil {
				continue
			}
			crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
			c, err := tls.X509KeyPair(crt, key)
			if err != nil {
				continue
			}
			certs[k] = &c
			pairs[k] = [2][]byte{crt, key}
		}
	}
	return certs, pairs
}

// CertificatesData lays pairs out as the copy's data: "NAMESPACE.NAME.crt"
// and ".key" (a namespace holds no dot). Pairs that do not fit are left
// out and named.
func CertificatesData(pairs map[string][2][]byte) (data map[string][]byte, left []string) {
	data = map[string][]byte{}
	size := 0
	for _, k := range slices.Sorted(maps.Keys(pairs)) {
		p := pairs[k]
		if size += len(p[0]) + len(p[1]); size > maxCertificateBytes {
			left = append(left, k)
			continue
		}
		name := strings.Replace(k, "/", ".", 1)
		data[name+".crt"], data[name+".key"] = p[0], p[1]
	}
	return data, left
}

// CertificatesFrom parses the copy back, by namespace/name.
func CertificatesFrom(s *corev1.Secret) (map[string]*tls.Certificate, error) {
	out := map[string]*tls.Certificate{}
	var bad []string
	for name, crt := range s.Data {
		base, ok := strings.CutSuffix(name, ".crt")
		if !ok {
			continue
		}
		ns, secret, ok := strings.Cut(base, ".")
		if !ok {
			continue
		}
		c, err := tls.X509KeyPair(crt, s.Data[base+".key"])
		if err != nil {
			bad = append(bad, ns+"/"+secret)
			continue
		}
		out[ns+"/"+secret] = &c
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return out, fmt.Errorf("%s/%s: unusable certificates %v", s.Namespace, s.Name, bad)
	}
	return out, nil
}
