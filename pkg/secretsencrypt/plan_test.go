package secretsencrypt

import (
	"strings"
	"testing"
	"time"
)

func key(t *testing.T, c Config, at string) Key {
	t.Helper()
	now, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.NewKey(now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRenderParse(t *testing.T) {
	k1 := key(t, Config{}, "2026-01-01T00:00:00Z")
	k2 := key(t, Config{}, "2026-02-01T00:00:00Z")
	for _, c := range []Config{
		{},
		{Enabled: true, Keys: []Key{k1}},
		{Enabled: true, Keys: []Key{k1, k2}},
		{Enabled: false, Keys: []Key{k2, k1}},
	} {
		got, err := Parse(c.Render())
		if err != nil {
			t.Fatalf("%+v: %v\n%s", c, err, c.Render())
		}
		if got.Enabled != c.Enabled || len(got.Keys) != len(c.Keys) {
			t.Fatalf("round trip of %+v gave %+v", c, got)
		}
		for i := range c.Keys {
			if got.Keys[i].Name != c.Keys[i].Name || string(got.Keys[i].Secret) != string(c.Keys[i].Secret) {
				t.Fatalf("key %d changed in the round trip", i)
			}
		}
	}
	for _, bad := range []string{
		``, `{}`, `{"kind":"EncryptionConfiguration","resources":[{"resources":["configmaps"],"providers":[{"identity":{}}]}]}`,
		`{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"aescbc":{}}]}]}`,
		`{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"secretbox":{"keys":[{"name":"a","secret":"c2hvcnQ="}]}},{"identity":{}}]}]}`,
		`{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"secretbox":{"keys":[]}},{"identity":{}}]}]}`,
		`{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"secretbox":{"keys":[]}}]}]}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestRotationResumes plans a rotation, then plans again from the file
// each of its steps leaves: the rest of the plan is the same, and every
// configuration on the way reads what the one before wrote.
func TestRotationResumes(t *testing.T) {
	k1 := key(t, Config{}, "2026-01-01T00:00:00Z")
	start := Config{Enabled: true, Keys: []Key{k1}}
	k2 := key(t, start, "2026-02-01T00:00:00Z")
	steps := RotationSteps(start, k2)
	if len(steps) != 3 || !steps[1].Reencrypt || steps[0].Reencrypt || steps[2].Reencrypt {
		t.Fatalf("steps %+v", steps)
	}
	if got := steps[2].Config; len(got.Keys) != 1 || got.Keys[0].Name != k2.Name || !got.Enabled {
		t.Fatalf("end state %+v", got)
	}
	prev := start
	for i, st := range steps {
		// readable: every key of the previous state is still known
		for _, k := range prev.Keys {
			known := false
			for _, o := range st.Config.Keys {
				known = known || o.Name == k.Name
			}
			// the last step drops keys only after every Secret was
			// written again with the new one
			if !known && !(i == len(steps)-1 && steps[i-1].Reencrypt) {
				t.Fatalf("step %d (%s) forgets key %s", i, st.What, k.Name)
			}
		}
		// the file this step leaves plans the rest again
		resumed, err := Parse(st.Config.Render())
		if err != nil {
			t.Fatal(err)
		}
		if i < len(steps)-1 {
			rest := RotationSteps(resumed, key(t, resumed, "2026-03-01T00:00:00Z"))
			if i == 0 && (len(rest) != 2 || rest[0].Config.Keys[0].Name != k2.Name || !rest[0].Reencrypt) {
				t.Fatalf("resumed after the introduction: %+v", rest)
			}
			if i == 1 && (len(rest) != 2 || !strings.HasPrefix(rest[0].What, "write every Secret again") || rest[1].Config.Keys[0].Name != k2.Name) {
				t.Fatalf("resumed after the switch: %+v", rest)
			}
		}
		prev = st.Config
	}
}

func TestNewKeyIsNewestEvenWhenTheClockWentBack(t *testing.T) {
	k := key(t, Config{}, "2030-01-01T00:00:00Z")
	c := Config{Enabled: true, Keys: []Key{k}}
	older := key(t, c, "2026-01-01T00:00:00Z")
	if older.Name <= k.Name {
		t.Fatalf("new key %s sorts before %s", older.Name, k.Name)
	}
	c.Keys = append(c.Keys, older)
	if c.Newest() != 1 {
		t.Fatal("Newest")
	}
}

func TestEnableDisable(t *testing.T) {
	k := key(t, Config{}, "2026-01-01T00:00:00Z")
	on := EnableSteps(Config{}, k)
	if len(on) != 1 || !on[0].Config.Enabled || len(on[0].Config.Keys) != 1 || !on[0].Reencrypt {
		t.Fatalf("enable %+v", on)
	}
	off := DisableSteps(on[0].Config)
	if off[0].Config.Enabled || len(off[0].Config.Keys) != 1 || !off[0].Reencrypt {
		t.Fatalf("disable must keep the key to read what is still encrypted: %+v", off)
	}
	if !strings.Contains(string(off[0].Config.Render()), `"identity": {}`) {
		t.Fatal("no identity provider")
	}
}
