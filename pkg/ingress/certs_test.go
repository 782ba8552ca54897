package ingress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pemPair(t *testing.T, name string) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func tlsSecret(ns, name string, crt, key []byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
}

// Only the named, usable certificates reach the copy, and the nodes read
// back exactly those, under their Secrets' names (dots included).
func TestCertificatesCopy(t *testing.T) {
	crt, key := pemPair(t, "a.example")
	secrets := map[string]*corev1.Secret{
		"shop/a.example-tls": tlsSecret("shop", "a.example-tls", crt, key),
		"shop/broken":        tlsSecret("shop", "broken", crt, []byte("not a key")),
		"shop/unnamed":       tlsSecret("shop", "unnamed", crt, key),
		"shop/opaque":        {ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "opaque"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}},
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: networkingv1.IngressSpec{
		TLS: []networkingv1.IngressTLS{{SecretName: "a.example-tls"}, {SecretName: "broken"}, {SecretName: "opaque"}, {SecretName: "missing"}},
	}}
	certs, pairs := usableCerts([]*networkingv1.Ingress{ing}, secrets)
	if len(certs) != 1 || certs["shop/a.example-tls"] == nil || len(pairs) != 1 {
		t.Fatalf("usable: %v", certs)
	}
	data, left := CertificatesData(pairs)
	if len(left) != 0 || len(data) != 2 {
		t.Fatalf("data %v, left %v", data, left)
	}
	back, err := CertificatesFrom(&corev1.Secret{Data: data})
	if err != nil || len(back) != 1 || back["shop/a.example-tls"] == nil {
		t.Errorf("read back: %v %v", back, err)
	}
	// a copy damaged by hand is reported, and its good pairs still served
	data["shop.bad.crt"], data["shop.bad.key"] = crt, []byte("x")
	back, err = CertificatesFrom(&corev1.Secret{Data: data})
	if err == nil || !strings.Contains(err.Error(), "shop/bad") || back["shop/a.example-tls"] == nil {
		t.Errorf("a damaged copy: %v %v", back, err)
	}
}

// Pairs past the size bound are left out and named.
func TestCertificatesCopyBound(t *testing.T) {
	big := make([]byte, maxCertificateBytes/2)
	pairs := map[string][2][]byte{"a/one": {big, nil}, "a/two": {big, nil}, "a/three": {big, nil}}
	data, left := CertificatesData(pairs)
	if len(data) != 4 || len(left) != 1 {
		t.Errorf("%d entries, left %v", len(data), left)
	}
}

func TestClaimIsAsOldAsTheOldestIngress(t *testing.T) {
	ready := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{ProxyLabel: "true"}}, Status: corev1.NodeStatus{Conditions: ready}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: corev1.NodeStatus{Conditions: ready}}, // its proxy does not listen
	}
	if claim(nil, Ports{80, 443}, nodes) != nil {
		t.Error("a claim without Ingresses")
	}
	older, newer := ingressOf("older", 10, "x"), ingressOf("newer", 1, "y")
	c := claim([]*networkingv1.Ingress{newer, older}, Ports{8080, 8443}, nodes)
	if c == nil || !c.Since.Equal(&older.CreationTimestamp) || strings.Join(c.Nodes, ",") != "a" || c.Ports[0] != 8080 || c.Ports[1] != 8443 || !strings.Contains(c.Holder, "default/older") {
		t.Errorf("claim %+v", c)
	}
}

func TestOurs(t *testing.T) {
	class := NewClass(Ports{80, 443})
	mine, other := ClassName, "nginx"
	named, elsewhere, legacy, unnamed := ingressOf("named", 1, "a"), ingressOf("elsewhere", 1, "b"), ingressOf("legacy", 1, "c"), ingressOf("unnamed", 1, "d")
	named.Spec.IngressClassName = &mine
	elsewhere.Spec.IngressClassName = &other
	legacy.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
	all := []*networkingv1.Ingress{named, elsewhere, legacy, unnamed}
	keys := func(ings []*networkingv1.Ingress) string {
		var out []string
		for _, i := range ings {
			out = append(out, i.Name)
		}
		return strings.Join(out, ",")
	}
	if got := keys(Ours(all, class)); got != "named,unnamed" {
		t.Errorf("with edgeos the default class: %s", got)
	}
	class.Annotations[networkingv1.AnnotationIsDefaultIngressClass] = "false"
	if got := keys(Ours(all, class)); got != "named" {
		t.Errorf("with another default class: %s", got)
	}
	if got := keys(Ours(all, nil)); got != "" {
		t.Errorf("without the class: %s", got)
	}
	if p, err := PortsOf(class); err != nil || p != (Ports{80, 443}) {
		t.Errorf("ports %v %v", p, err)
	}
	class.Annotations[HTTPPortAnnotation] = "http"
	if _, err := PortsOf(class); err == nil {
		t.Error("a port annotation that is not a number was taken")
	}
}
