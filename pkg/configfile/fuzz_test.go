package configfile

import "testing"

// FuzzParse reads whatever bytes a config file may hold: an error or
// values, each with its line, never a crash.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"data-dir: /srv/edgeos\nhttps-listen-port: 7443\ntls-san: [a.example, 10.0.0.1]\ndebug: true\n",
		"write-kubeconfig-mode: 0640\n",
		"kubelet-arg:\n- feature-gates=A=true,B=false\n",
		"a: &x [1, 2]\nb: *x\n",
		"- x\n",
		"# comment only\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		values, err := parse(b)
		if err != nil {
			return
		}
		for _, v := range values {
			if v.line < 1 {
				t.Errorf("key %q without a line", v.key)
			}
		}
	})
}
