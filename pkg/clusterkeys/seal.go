// Package clusterkeys makes servers that share a datastore one cluster: the
// first server stores its CAs, service-account key and Secrets encryption
// keys in the datastore, sealed with a key derived from the join token, and
// every later server opens them with the same token instead of making its
// own.
package clusterkeys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrWrongToken is what opening a sealed bundle with another token gives.
var ErrWrongToken = errors.New("the token does not open the cluster's keys: it is not the token this cluster was created with")

const (
	// header names the format; it is also the cipher's additional data, so
	// a blob of another version cannot be passed off as this one.
	header  = "edgeos-cluster-keys-v1\n"
	saltLen = 16
	// iterations of PBKDF2-SHA256: a user-chosen token is guessed no
	// faster than this allows; a generated one has 128 random bits anyway.
	iterations = 210_000
)

// seal encrypts plain with a key derived from credential: the header, a
// random salt, then AES-256-GCM's nonce and ciphertext.
func seal(credential string, plain []byte) ([]byte, error) {
	if credential == "" {
		return nil, errors.New("no token to seal the cluster's keys with")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := newAEAD(credential, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(header), salt...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, []byte(header)), nil
}

// open is seal's inverse; a blob sealed with another credential, or
// changed since, gives ErrWrongToken.
func open(credential string, blob []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(blob, []byte(header))
	if !ok {
		return nil, errors.New("the cluster's keys in the datastore are not in a format this edgeos reads")
	}
	if len(rest) < saltLen {
		return nil, errors.New("the cluster's keys in the datastore are truncated")
	}
	aead, err := newAEAD(credential, rest[:saltLen])
	if err != nil {
		return nil, err
	}
	rest = rest[saltLen:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("the cluster's keys in the datastore are truncated")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(header))
	if err != nil {
		return nil, ErrWrongToken
	}
	return plain, nil
}

func newAEAD(credential string, salt []byte) (cipher.AEAD, error) {
	key, err := pbkdf2.Key(sha256.New, credential, salt, iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the key of the cluster's keys: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
