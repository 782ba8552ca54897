// Package token parses and creates edgeos join tokens.
//
// A full token has the k3s-compatible shape
//
//	K10<hex sha256 of the server CA bundle>::<credential>
//
// The CA hash lets a joining node check the server before it trusts it; the
// credential is what the server authenticates. The server's own credential is
// "server:<secret>"; tokens made by `edgeos token create` carry a Kubernetes
// bootstrap-token credential "<id>.<secret>".
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

const (
	prefix = "K10"
	// ServerUser is the user part of the server's own credential.
	ServerUser = "server"
)

// Token is a parsed join token.
type Token struct {
	// CAHash is the hex sha256 of the server CA bundle; empty for a bare credential.
	CAHash string
	// Credential is the secret part the server authenticates.
	Credential string
}

// String renders the full token.
func (t Token) String() string {
	if t.CAHash == "" {
		return t.Credential
	}
	return prefix + t.CAHash + "::" + t.Credential
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Parse reads a full token ("K10<hash>::<credential>") or a bare credential.
func Parse(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Token{}, errors.New("token is empty")
	}
	if !strings.HasPrefix(s, prefix) || !strings.Contains(s, "::") {
		return Token{Credential: s}, nil
	}
	hash, cred, _ := strings.Cut(strings.TrimPrefix(s, prefix), "::")
	if !hashPattern.MatchString(hash) {
		return Token{}, errors.New("token has a malformed CA hash: want 64 lowercase hex digits after K10")
	}
	if cred == "" {
		return Token{}, errors.New("token has no credential after '::'")
	}
	return Token{CAHash: hash, Credential: cred}, nil
}

// CAHash is the hash a token carries for a CA bundle.
func CAHash(caBundle []byte) string {
	sum := sha256.Sum256(caBundle)
	return hex.EncodeToString(sum[:])
}

// VerifyCA reports whether caBundle is the bundle the token names.
func (t Token) VerifyCA(caBundle []byte) error {
	if t.CAHash == "" {
		return errors.New("token carries no CA hash, so the server cannot be verified; use the full K10… token from the server")
	}
	got := CAHash(caBundle)
	if subtle.ConstantTimeCompare([]byte(got), []byte(t.CAHash)) != 1 {
		return fmt.Errorf("server CA hash %s does not match the token's %s: wrong server or tampered connection", got, t.CAHash)
	}
	return nil
}

// ServerCredential turns a user-given server secret into the server credential.
// A secret that already names a user ("server:xyz") is kept as is.
func ServerCredential(secret string) string {
	if strings.HasPrefix(secret, ServerUser+":") {
		return secret
	}
	return ServerUser + ":" + secret
}

// RandomHex returns n random bytes as hex.
func RandomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
