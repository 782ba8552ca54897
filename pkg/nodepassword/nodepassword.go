// Package nodepassword keeps the secret that ties a node name to the machine
// that first joined under it, as a Secret <node>.node-password.edgeos in
// kube-system holding a salted hash. Deleting that Secret frees the name.
package nodepassword

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// SecretType marks node password Secrets.
const SecretType corev1.SecretType = "edgeos.io/node-password"

// SecretName is the Secret that holds a node's password hash.
func SecretName(node string) string { return node + ".node-password.edgeos" }

// Store implements bootstrap.NodePasswords on kube-system Secrets.
type Store struct {
	Secrets corev1client.SecretsGetter
}

var _ bootstrap.NodePasswords = Store{}

// Verify accepts the password that first claimed the node name, and records
// it when the name is new.
func (s Store) Verify(ctx context.Context, node, password string) error {
	secrets := s.Secrets.Secrets(metav1.NamespaceSystem)
	for attempt := 0; attempt < 2; attempt++ {
		sec, err := secrets.Get(ctx, SecretName(node), metav1.GetOptions{})
		if err == nil {
			return match(sec, password)
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return err
		}
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: SecretName(node), Namespace: metav1.NamespaceSystem},
			Type:       SecretType,
			Data:       map[string][]byte{"salt": salt, "hash": []byte(hash(salt, password))},
		}, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		// another request claimed the name meanwhile: compare with that
	}
	return fmt.Errorf("node password of %s changed twice while checking it", node)
}

func match(sec *corev1.Secret, password string) error {
	want := sec.Data["hash"]
	if subtle.ConstantTimeCompare([]byte(hash(sec.Data["salt"], password)), want) != 1 {
		return bootstrap.ErrNodeTaken
	}
	return nil
}

func hash(salt []byte, password string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(password))
	return hex.EncodeToString(h.Sum(nil))
}
