package token

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// Join tokens made by `edgeos token create` are Kubernetes bootstrap tokens:
// a Secret bootstrap-token-<id> in kube-system, expiry enforced here and
// cleaned up by the controller-manager's tokencleaner.

var bootstrapPattern = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// Authenticator accepts the server credential and unexpired join tokens.
type Authenticator struct {
	// Server is the server credential ("server:<secret>").
	Server string
	// Secrets reads kube-system Secrets; nil accepts only the server credential.
	Secrets corev1client.SecretsGetter
}

var _ bootstrap.Authenticator = Authenticator{}

// Authenticate implements bootstrap.Authenticator.
func (a Authenticator) Authenticate(ctx context.Context, cred string) error {
	if subtle.ConstantTimeCompare([]byte(cred), []byte(a.Server)) == 1 {
		return nil
	}
	m := bootstrapPattern.FindStringSubmatch(cred)
	if m == nil || a.Secrets == nil {
		return bootstrap.ErrUnauthorized
	}
	s, err := a.Secrets.Secrets(metav1.NamespaceSystem).Get(ctx, bootstrapapi.BootstrapTokenSecretPrefix+m[1], metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return bootstrap.ErrUnauthorized
	}
	if err != nil {
		return err
	}
	if s.Type != bootstrapapi.SecretTypeBootstrapToken ||
		subtle.ConstantTimeCompare(s.Data[bootstrapapi.BootstrapTokenSecretKey], []byte(m[2])) != 1 {
		return bootstrap.ErrUnauthorized
	}
	if exp := string(s.Data[bootstrapapi.BootstrapTokenExpirationKey]); exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil || time.Now().After(t) {
			return bootstrap.ErrUnauthorized
		}
	}
	return nil
}

const tokenChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomString draws n characters from tokenChars without modulo bias.
func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if int(b[0]) < 256-256%len(tokenChars) {
			out = append(out, tokenChars[int(b[0])%len(tokenChars)])
		}
	}
	return string(out), nil
}

// Create stores a new join token that expires after ttl (0: never).
func Create(ctx context.Context, secrets corev1client.SecretsGetter, caHash string, ttl time.Duration, description string) (Token, error) {
	if ttl < 0 {
		return Token{}, fmt.Errorf("--ttl %s: want 0 (the token never expires) or more", ttl)
	}
	id, err := randomString(6)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(16)
	if err != nil {
		return Token{}, err
	}
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:               []byte(id),
		bootstrapapi.BootstrapTokenSecretKey:           []byte(secret),
		bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
	}
	if description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(description)
	}
	if ttl > 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(time.Now().Add(ttl).UTC().Format(time.RFC3339))
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.BootstrapTokenSecretPrefix + id, Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
	if _, err := secrets.Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return Token{}, fmt.Errorf("storing token: %w", err)
	}
	return Token{CAHash: caHash, Credential: id + "." + secret}, nil
}

// Info describes a stored join token without its secret.
type Info struct {
	ID          string
	Expires     string
	Description string
}

// List returns the stored join tokens, by ID.
func List(ctx context.Context, secrets corev1client.SecretsGetter) ([]Info, error) {
	l, err := secrets.Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
		FieldSelector: "type=" + string(bootstrapapi.SecretTypeBootstrapToken),
	})
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, s := range l.Items {
		exp := string(s.Data[bootstrapapi.BootstrapTokenExpirationKey])
		if exp == "" {
			exp = "never"
		}
		out = append(out, Info{
			ID:          string(s.Data[bootstrapapi.BootstrapTokenIDKey]),
			Expires:     exp,
			Description: string(s.Data[bootstrapapi.BootstrapTokenDescriptionKey]),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
