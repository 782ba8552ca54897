package secretsencrypt

import "errors"

// Step is one step of a change: the configuration to write, and whether
// every Secret is written again once the apiserver uses it.
type Step struct {
	What      string
	Config    Config
	Reencrypt bool
}

// RotationSteps plans the rest of a key rotation from c, with newKey for
// one that has not begun: introduce the new key (every reader knows it
// before any writer uses it, which matters with several servers), make it
// the one that encrypts, write every Secret again with it, then drop the
// others. The file shows a rotation cut short: more than one key, the
// newest last (introduced) or first (in use).
func RotationSteps(c Config, newKey Key) []Step {
	keys := c.Keys
	if len(keys) <= 1 {
		keys = append(append([]Key(nil), keys...), newKey)
		return append([]Step{{What: "introduce key " + newKey.Name, Config: Config{Enabled: c.Enabled, Keys: keys}}},
			RotationSteps(Config{Enabled: c.Enabled, Keys: keys}, newKey)...)
	}
	n := c.Newest()
	newest := keys[n]
	inUse := Config{Enabled: c.Enabled, Keys: append([]Key{newest}, without(keys, n)...)}
	what := "encrypt with key " + newest.Name + " and write every Secret again"
	if n == 0 {
		what = "write every Secret again with key " + newest.Name
	}
	return []Step{
		{What: what, Config: inUse, Reencrypt: true},
		{What: "drop the keys before " + newest.Name, Config: Config{Enabled: c.Enabled, Keys: []Key{newest}}},
	}
}

// EnableSteps turns encryption on (with newKey if there is no key) and
// writes every Secret again, encrypted.
func EnableSteps(c Config, newKey Key) []Step {
	keys := c.Keys
	if len(keys) == 0 {
		keys = []Key{newKey}
	}
	return []Step{{What: "encrypt Secrets and write every Secret again", Config: Config{Enabled: true, Keys: keys}, Reencrypt: true}}
}

// DisableSteps turns encryption off and writes every Secret again, as it
// is; the keys stay, to read what is still encrypted (a backup restored).
func DisableSteps(c Config) []Step {
	return []Step{{What: "write Secrets unencrypted and write every Secret again", Config: Config{Enabled: false, Keys: c.Keys}, Reencrypt: true}}
}

// ReencryptSteps writes every Secret again as the configuration says.
func ReencryptSteps(c Config) []Step {
	return []Step{{What: "write every Secret again", Config: c, Reencrypt: true}}
}

// errNoFile is what a server without the file (an edgeos from before
// secrets encryption that has not started since) gets.
var errNoFile = errors.New("this server has no encryption configuration yet: start the edgeos server once first")

func without(keys []Key, i int) []Key {
	out := append([]Key(nil), keys[:i]...)
	return append(out, keys[i+1:]...)
}
