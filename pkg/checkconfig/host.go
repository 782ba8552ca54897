package checkconfig

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Host is where the checks look. The zero paths of Local are the real host;
// tests point them at a fixture tree.
type Host struct {
	Proc    string   // /proc
	Sys     string   // /sys
	Modules string   // /lib/modules
	Boot    string   // /boot
	Path    []string // directories searched for programs
}

// Local is this machine.
func Local() Host {
	return Host{Proc: "/proc", Sys: "/sys", Modules: "/lib/modules", Boot: "/boot", Path: filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin:/sbin")}
}

func (h Host) exists(parts ...string) bool {
	_, err := os.Stat(filepath.Join(parts...))
	return err == nil
}

func (h Host) lines(parts ...string) []string {
	f, err := os.Open(filepath.Join(parts...))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (h Host) kernelRelease() string {
	if l := h.lines(h.Proc, "sys/kernel/osrelease"); len(l) > 0 {
		return l[0]
	}
	return "unknown"
}

func (h Host) hasFilesystem(name string) bool {
	for _, l := range h.lines(h.Proc, "filesystems") {
		f := strings.Fields(l)
		if len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}

// Availability of a kernel feature.
type Availability int

const (
	Unknown Availability = iota
	Absent
	Present
)

// feature reports whether a kernel feature, known as module mod and config
// option opt, is built in, loaded or loadable. It is Unknown only when the
// host offers neither a module index nor its kernel config.
func (h Host) feature(mod, opt string) Availability {
	if h.exists(h.Sys, "module", mod) {
		return Present
	}
	for _, l := range h.lines(h.Proc, "modules") {
		if strings.HasPrefix(l, mod+" ") {
			return Present
		}
	}
	if cfg, ok := h.kernelConfig(); ok {
		if v := cfg[opt]; v == "y" || v == "m" {
			return Present
		}
		return Absent
	}
	dir := filepath.Join(h.Modules, h.kernelRelease())
	indexed := false
	for _, index := range []string{"modules.builtin", "modules.dep"} {
		if !h.exists(dir, index) {
			continue
		}
		indexed = true
		for _, l := range h.lines(dir, index) {
			path, _, _ := strings.Cut(l, ":")
			if m, _, ok := strings.Cut(filepath.Base(path), ".ko"); ok && strings.ReplaceAll(m, "-", "_") == mod {
				return Present
			}
		}
	}
	if indexed {
		return Absent
	}
	return Unknown
}

// kernelConfig reads /proc/config.gz or /boot/config-<release>.
func (h Host) kernelConfig() (map[string]string, bool) {
	var r io.Reader
	if f, err := os.Open(filepath.Join(h.Proc, "config.gz")); err == nil {
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, false
		}
		r = gz
	} else if f, err := os.Open(filepath.Join(h.Boot, "config-"+h.kernelRelease())); err == nil {
		defer f.Close()
		r = f
	} else {
		return nil, false
	}
	cfg := map[string]string{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			cfg[k] = v
		}
	}
	return cfg, s.Err() == nil
}

// cgroupV2Controllers reads the root cgroup's controllers when the unified
// hierarchy is mounted at /sys/fs/cgroup.
func (h Host) cgroupV2Controllers() ([]string, bool) {
	l := h.lines(h.Sys, "fs/cgroup/cgroup.controllers")
	if l == nil && !h.exists(h.Sys, "fs/cgroup/cgroup.controllers") {
		return nil, false
	}
	return strings.Fields(strings.Join(l, " ")), true
}

// cgroupV1Enabled lists the controllers /proc/cgroups marks enabled.
func (h Host) cgroupV1Enabled() []string {
	var out []string
	for _, l := range h.lines(h.Proc, "cgroups") {
		f := strings.Fields(l)
		if len(f) == 4 && !strings.HasPrefix(f[0], "#") && f[3] == "1" {
			out = append(out, f[0])
		}
	}
	return out
}

func (h Host) lookPath(name string) (string, error) {
	for _, dir := range h.Path {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("not found")
}
