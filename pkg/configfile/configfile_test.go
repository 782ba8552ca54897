package configfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

type settings struct {
	DataDir string
	Port    int
	SANs    []string
	Args    []string
	Debug   bool
	Mode    string
}

// run parses args with a config file holding yaml, the way edgeos server does.
func run(t *testing.T, yaml string, args ...string) (settings, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if yaml != "" {
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var s settings
	cmd := &cli.Command{
		Name: "server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Value: path},
			&cli.StringFlag{Name: "data-dir", Value: "/var/lib/edgeos", EnvVars: []string{"TEST_EDGEOS_DATA_DIR"}, Destination: &s.DataDir},
			&cli.IntFlag{Name: "https-listen-port", Value: 6443, Destination: &s.Port},
			&cli.GenericFlag{Name: "tls-san", Value: List{Dst: &s.SANs}},
			&cli.GenericFlag{Name: "kubelet-arg", Value: Args{Dst: &s.Args}},
			&cli.BoolFlag{Name: "debug", Destination: &s.Debug},
			&cli.StringFlag{Name: "write-kubeconfig-mode", Destination: &s.Mode},
		},
		Before: Apply,
		Action: func(*cli.Context) error { return nil },
	}
	app := &cli.App{Commands: []*cli.Command{cmd}}
	err := app.Run(append([]string{"edgeos", "server"}, args...))
	return s, err
}

func TestFileFillsUnsetFlags(t *testing.T) {
	s, err := run(t, "data-dir: /srv/edgeos\nhttps-listen-port: 7443\ntls-san: [a.example, 10.0.0.1]\ndebug: true\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.DataDir != "/srv/edgeos" || s.Port != 7443 || !s.Debug || strings.Join(s.SANs, ",") != "a.example,10.0.0.1" {
		t.Fatalf("got %+v", s)
	}
}

// A list flag splits at commas; a component's flag keeps them, in a file
// and on the command line alike.
func TestListsAndArgs(t *testing.T) {
	s, err := run(t, "", "--tls-san", "a.example,10.0.0.1", "--tls-san", "b.example")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.SANs, " "); got != "a.example 10.0.0.1 b.example" {
		t.Errorf("tls-san: %q", got)
	}
	s, err = run(t, "kubelet-arg:\n- feature-gates=A=true,B=false\n- max-pods=50\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Args, " "); got != "feature-gates=A=true,B=false max-pods=50" {
		t.Errorf("kubelet-arg from the file: %q", got)
	}
	s, err = run(t, "", "--kubelet-arg", "feature-gates=A=true,B=false", "--kubelet-arg=runtime-config=x/v1=false,y/v1=false")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Args, " "); got != "feature-gates=A=true,B=false runtime-config=x/v1=false,y/v1=false" {
		t.Errorf("kubelet-arg from flags: %q", got)
	}
}

func TestPrecedenceFlagsThenEnvThenFile(t *testing.T) {
	yaml := "data-dir: /from/file\nhttps-listen-port: 7443\n"
	t.Setenv("TEST_EDGEOS_DATA_DIR", "/from/env")
	s, err := run(t, yaml)
	if err != nil {
		t.Fatal(err)
	}
	if s.DataDir != "/from/env" {
		t.Fatalf("env should beat file, got %q", s.DataDir)
	}
	if s.Port != 7443 {
		t.Fatalf("file value lost: %d", s.Port)
	}
	s, err = run(t, yaml, "--data-dir", "/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	if s.DataDir != "/from/flag" {
		t.Fatalf("flag should beat env and file, got %q", s.DataDir)
	}
}

// A value is the text written, as on the command line: YAML would read
// an unquoted 0640 as the number 416 (and 1e3 as 1000).
func TestValuesAsWritten(t *testing.T) {
	for _, c := range []struct{ yaml, mode string }{
		{"write-kubeconfig-mode: 0640\n", "0640"},
		{"write-kubeconfig-mode: '0640'\n", "0640"},
		{"write-kubeconfig-mode: 1e3\n", "1e3"},
		{"# nothing but a comment\n", ""},
		{"", ""},
	} {
		s, err := run(t, c.yaml)
		if err != nil || s.Mode != c.mode {
			t.Errorf("%q: mode %q, %v; want %q", c.yaml, s.Mode, err, c.mode)
		}
	}
	// YAML 1.1's yes and off, for a boolean flag only
	s, err := run(t, "debug: yes\ndata-dir: off\n")
	if err != nil || !s.Debug || s.DataDir != "off" {
		t.Errorf("debug: yes, data-dir: off: %+v %v", s, err)
	}
	if s, err = run(t, "debug: Off\n"); err != nil || s.Debug {
		t.Errorf("debug: Off: %+v %v", s, err)
	}
}

func TestBadFiles(t *testing.T) {
	for name, c := range map[string]struct{ yaml, want string }{
		"malformed":     {"data-dir: [unclosed\n", "not valid YAML"},
		"not a map":     {"- data-dir\n", "line 1: not valid YAML: want a map"},
		"unknown key":   {"debug: true\nno-such-flag: 1\n", `line 2: unknown key "no-such-flag"`},
		"nested":        {"data-dir: {a: b}\n", "plain value"},
		"nested list":   {"tls-san: [[a]]\n", "plain value"},
		"null":          {"data-dir:\n", `line 1: key "data-dir" wants a plain value`},
		"twice":         {"debug: true\ndebug: false\n", `line 2: key "debug" given twice`},
		"bad value":     {"https-listen-port: many\n", "line 1: https-listen-port"},
		"not a boolean": {"debug: maybe\n", "debug"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, c.yaml)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	// the default file may be absent ...
	if _, err := run(t, ""); err != nil {
		t.Fatalf("absent default config file: %v", err)
	}
	// ... but one named on the command line must exist
	_, err := run(t, "", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing explicit config file: %v", err)
	}
}
