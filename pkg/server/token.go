package server

import (
	"errors"
	"fmt"
	"os"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/token"
	"github.com/sirupsen/logrus"
)

// ensureToken settles the server's join token: the one given by flag, the
// one stored in <data-dir>/server/token, or a new random one. A given token
// that contradicts the stored one or this server's CA is an error, so that a
// typo never locks existing nodes out.
func (s *Server) ensureToken() (token.Token, error) {
	caBundle, err := os.ReadFile(s.certs.serverCA.CertFile)
	if err != nil {
		return token.Token{}, err
	}
	want := token.Token{CAHash: token.CAHash(caBundle)}

	stored, err := storedToken(s.paths.token())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return token.Token{}, err
	}

	given := s.cfg.Secret
	switch {
	case given != "":
		g, err := token.Parse(given)
		if err != nil {
			return token.Token{}, fmt.Errorf("--token: %w", err)
		}
		if g.CAHash != "" && g.CAHash != want.CAHash {
			return token.Token{}, fmt.Errorf("--token names CA hash %s, but this server's CA hash is %s", g.CAHash, want.CAHash)
		}
		want.Credential = token.ServerCredential(g.Credential)
		if stored.Credential != "" && stored.Credential != want.Credential {
			return token.Token{}, fmt.Errorf("--token differs from the token this server was set up with (kept in %s); nodes joined with it would be locked out. Remove that file to change the token", s.paths.token())
		}
	case stored.Credential != "":
		want.Credential = stored.Credential
	default:
		secret, err := token.RandomHex(16)
		if err != nil {
			return token.Token{}, err
		}
		want.Credential = token.ServerCredential(secret)
		logrus.Infof("Generated a join token in %s", s.paths.token())
	}
	if stored != want {
		if err := pki.WriteFile(s.paths.token(), []byte(want.String()+"\n"), 0o600); err != nil {
			return token.Token{}, err
		}
	}
	return want, nil
}

// storedToken reads the token a server keeps at path.
func storedToken(path string) (token.Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return token.Token{}, err
	}
	t, err := token.Parse(string(b))
	if err != nil {
		return token.Token{}, fmt.Errorf("stored token %s: %w", path, err)
	}
	return t, nil
}
