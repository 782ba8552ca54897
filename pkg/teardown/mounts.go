package teardown

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// mountPoints are the mount points in this mount namespace, decoded.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out = append(out, unescape(fields[4]))
		}
	}
	return out, sc.Err()
}

// unescape decodes the octal escapes (\040 for a space) of mountinfo.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// unmountAll detaches every mount below the run dir and the data dir,
// deepest first (the pods' network namespaces are removeNetNS's).
func unmountAll(cfg Config) []error {
	points, err := mountPoints()
	if err != nil {
		return []error{err}
	}
	var ours []string
	for _, m := range points {
		if under(m, cfg.RunDir) || (under(m, cfg.DataDir) && m != cfg.DataDir) {
			ours = append(ours, m)
		}
	}
	sort.Slice(ours, func(i, j int) bool { return len(ours[i]) > len(ours[j]) })
	var errs []error
	n := 0
	for _, m := range ours {
		err := unix.Unmount(m, unix.MNT_DETACH)
		switch {
		case err == nil:
			n++
		case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOENT):
			// already gone with a mount above it
		default:
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	if n > 0 {
		cfg.Say("unmounted %d mounts", n)
	}
	return errs
}

// removeNetNS removes the network namespace files (cni-*) in dir that no
// process uses any more: those of this edgeos's pods, once they are gone,
// and no other program's live ones.
func removeNetNS(cfg Config, dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "cni-*"))
	if len(files) == 0 {
		return nil
	}
	used := map[uint64]bool{}
	for _, p := range processes() {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", fmt.Sprint(p.pid), "ns", "net"), &st) == nil {
			used[st.Ino] = true
		}
	}
	var errs []error
	n := 0
	for _, f := range files {
		var st syscall.Stat_t
		if err := syscall.Stat(f, &st); err == nil && used[st.Ino] {
			continue
		}
		_ = unix.Unmount(f, unix.MNT_DETACH)
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n > 0 {
		cfg.Say("removed %d pod network namespaces", n)
	}
	return errors.Join(errs...)
}
