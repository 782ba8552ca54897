// Package secretsencrypt keeps Secrets encrypted in the datastore: it owns
// the kube-apiserver's EncryptionConfiguration (secretbox keys, mode 0600,
// reloaded by the apiserver when it changes) and the commands of `edgeos
// secrets-encrypt`. Every change is a sequence of steps, each a whole-file
// write of the configuration, so that the file alone says where a change
// that was cut short stands and running the command again finishes it;
// and at every step the apiserver holds every key a stored Secret may need.
package secretsencrypt

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Key is one secretbox key.
type Key struct {
	// Name is "edgeos-<UTC time of creation>": names sort by age.
	Name   string
	Secret []byte
}

// Config is the encryption configuration edgeos keeps.
type Config struct {
	// Enabled: Secrets are written encrypted with Keys[0]. Otherwise they
	// are written as they are, and the keys only read what was encrypted.
	Enabled bool
	// Keys are tried in order when reading; the newest may be first (in
	// use) or last (being introduced).
	Keys []Key
}

// NewKey makes a key named by its time of creation, newer by name than
// every key of c even if the clock went back.
func (c Config) NewKey(now time.Time) (Key, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, err
	}
	name := "edgeos-" + now.UTC().Format("20060102T150405.000000000Z")
	if n := c.Newest(); n >= 0 && name <= c.Keys[n].Name {
		name = c.Keys[n].Name + "-1"
	}
	return Key{Name: name, Secret: secret}, nil
}

// Newest is the index of the newest key, or -1.
func (c Config) Newest() int {
	n := -1
	for i, k := range c.Keys {
		if n < 0 || k.Name > c.Keys[n].Name {
			n = i
		}
	}
	return n
}

// The upstream EncryptionConfiguration, as much of it as edgeos writes.
type (
	fileConfig struct {
		Kind       string     `json:"kind"`
		APIVersion string     `json:"apiVersion"`
		Resources  []resource `json:"resources"`
	}
	resource struct {
		Resources []string   `json:"resources"`
		Providers []provider `json:"providers"`
	}
	provider struct {
		Secretbox *keys     `json:"secretbox,omitempty"`
		Identity  *struct{} `json:"identity,omitempty"`
	}
	keys struct {
		Keys []fileKey `json:"keys"`
	}
	fileKey struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	}
)

// Render is the file the apiserver reads.
func (c Config) Render() []byte {
	box := provider{Secretbox: &keys{}}
	for _, k := range c.Keys {
		box.Secretbox.Keys = append(box.Secretbox.Keys, fileKey{Name: k.Name, Secret: base64.StdEncoding.EncodeToString(k.Secret)})
	}
	identity := provider{Identity: &struct{}{}}
	providers := []provider{identity}
	if len(c.Keys) > 0 {
		providers = []provider{identity, box}
		if c.Enabled {
			providers = []provider{box, identity}
		}
	}
	b, err := json.MarshalIndent(fileConfig{
		Kind: "EncryptionConfiguration", APIVersion: "apiserver.config.k8s.io/v1",
		Resources: []resource{{Resources: []string{"secrets"}, Providers: providers}},
	}, "", "  ")
	if err != nil {
		panic(err) // plain structs of strings
	}
	return append(b, '\n')
}

// Parse reads a file Render wrote. Anything else is refused: edgeos does
// not edit a configuration it does not understand.
func Parse(b []byte) (Config, error) {
	var f fileConfig
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, fmt.Errorf("not an encryption configuration edgeos wrote: %w", err)
	}
	if f.Kind != "EncryptionConfiguration" || len(f.Resources) != 1 || !slices.Equal(f.Resources[0].Resources, []string{"secrets"}) {
		return Config{}, errors.New("not an encryption configuration edgeos wrote: want one resource entry, for secrets")
	}
	var c Config
	ps := f.Resources[0].Providers
	identities := 0
	for i, p := range ps {
		switch {
		case p.Identity != nil && p.Secretbox == nil:
			identities++
		case p.Secretbox != nil && p.Identity == nil && len(c.Keys) == 0:
			c.Enabled = i == 0
			for _, k := range p.Secretbox.Keys {
				s, err := base64.StdEncoding.DecodeString(k.Secret)
				if err != nil || len(s) != 32 {
					return Config{}, fmt.Errorf("key %q is not 32 bytes of base64", k.Name)
				}
				if k.Name == "" || slices.ContainsFunc(c.Keys, func(o Key) bool { return o.Name == k.Name }) {
					return Config{}, fmt.Errorf("key name %q is empty or appears twice", k.Name)
				}
				c.Keys = append(c.Keys, Key{Name: k.Name, Secret: s})
			}
		default:
			return Config{}, fmt.Errorf("provider %d is not one secretbox or identity", i)
		}
	}
	if identities != 1 {
		return Config{}, errors.New("not an encryption configuration edgeos wrote: want one identity provider")
	}
	if c.Enabled && len(c.Keys) == 0 {
		return Config{}, errors.New("encryption is on but there is no key")
	}
	return c, nil
}
