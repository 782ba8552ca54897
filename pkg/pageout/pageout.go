// Package pageout hands back to the kernel the pages of a program's file
// that only its start-up touched.
//
// Starting edgeos runs the package initialisation of every upstream
// component it links (API schemes, OpenAPI tables, flag sets) and their
// set-up code, once. Those pages of the executable stay resident: 140 MB
// of an agent's 170 MB, 190 MB of a server's. They are clean file pages,
// which the kernel would drop under memory pressure, but until then they
// count in the process's RSS and PSS, and in its cgroup's memory. A while
// after start-up, edgeos asks the kernel to reclaim its executable's
// mappings (madvise MADV_PAGEOUT; containerd, built from cmd/containerd,
// and the runc shims, from cmd/shim, page themselves out); what is still
// used is read back on its next use, once, and stays.
//
// edgeos first marks its own mappings for random access (MADV_RANDOM).
// Otherwise a page read back brings its neighbours: the kernel reads
// around a faulting page of a mapped file and maps what the page cache
// holds near it (up to 64 KiB). Scattered reads of the program (the GC
// looking up a function's stack map, reflection reading a type) then made
// most of .rodata and .gopclntab resident again within a minute: of an
// agent's 53 MB of program pages, 36 MB were those two sections, brought
// back by under a thousand faults. With the advice an agent keeps 26 MB of
// its program resident (bench/RESULTS.md). Only a process's own mappings
// can take that advice (process_madvise allows no MADV_RANDOM), hence
// containerd and the shims doing it themselves.
//
// Pages another process maps too (the shims of a node, or a second
// edgeos, on the same file) the kernel does not reclaim; Self unmaps them
// from its process instead. Kernels before 5.4 (MADV_PAGEOUT) and 5.10
// (process_madvise) refuse the advice; the pages then stay as before.
package pageout

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Region is one mapping of the file, [Start, End).
type Region struct {
	Start, End uintptr
	// Writable is a mapping whose permissions allow writes (the
	// program's data).
	Writable bool
	// Anonymous is the kB of the mapping that are private copies, not
	// the file's pages (from smaps; 0 from maps).
	Anonymous int64
}

// Regions lists the mappings of the file with inode ino on device dev in
// a /proc/PID/maps or /proc/PID/smaps listing.
func Regions(maps string, dev uint64, ino uint64) ([]Region, error) {
	var rs []Region
	in := false // the lines after a header of the file's mapping in smaps
	sc := bufio.NewScanner(strings.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset major:minor inode [path]
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.HasSuffix(f[0], ":") {
			// an smaps attribute of the mapping above: "Key: value [kB]"
			if in && f[0] == "Anonymous:" && len(f) > 1 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("smaps line %q", sc.Text())
				}
				rs[len(rs)-1].Anonymous = kb
			}
			continue
		}
		in = false
		if len(f) < 5 || len(f[1]) < 2 {
			return nil, fmt.Errorf("maps line %q", sc.Text())
		}
		if n, err := strconv.ParseUint(f[4], 10, 64); err != nil || n != ino || n == 0 {
			continue
		}
		major, minor, ok := strings.Cut(f[3], ":")
		ma, err1 := strconv.ParseUint(major, 16, 32)
		mi, err2 := strconv.ParseUint(minor, 16, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("maps device %q", f[3])
		}
		if unix.Mkdev(uint32(ma), uint32(mi)) != dev {
			continue
		}
		s, e, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(s, 16, 64)
		end, err2 := strconv.ParseUint(e, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("maps range %q", f[0])
		}
		rs = append(rs, Region{Start: uintptr(start), End: uintptr(end), Writable: f[1][1] == 'w'})
		in = true
	}
	return rs, sc.Err()
}

// exeRegions finds the mappings of pid's executable ("self" for this
// process), by the file's identity: its path may since have been replaced
// (an upgrade) or deleted.
func exeRegions(pid string) ([]Region, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/"+pid+"/exe", &st); err != nil {
		return nil, err
	}
	maps, err := os.ReadFile("/proc/" + pid + "/smaps")
	if err != nil {
		return nil, err
	}
	rs, err := Regions(string(maps), st.Dev, st.Ino)
	if err == nil && len(rs) == 0 {
		err = fmt.Errorf("no mapping of /proc/%s/exe", pid)
	}
	return rs, err
}

// Self asks the kernel to reclaim this process's pages of its executable,
// and from then on to read back only the pages used (MADV_RANDOM: no
// read-around), not their neighbours. The kernel reclaims only the pages
// no other process maps; those of its read-only mappings that others map
// too (the runc shims, one process per pod, run one file) it unmaps from
// this process (MADV_DONTNEED): they stay in the page cache for the
// others, and this process maps back those it uses.
func Self() error {
	rs, err := exeRegions("self")
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := madvise(r, unix.MADV_RANDOM); err != nil {
			return fmt.Errorf("madvise(MADV_RANDOM): %w", err)
		}
		if err := madvise(r, unix.MADV_PAGEOUT); err != nil {
			return advice("madvise", err)
		}
		// Writes live only in the process's private copies of the
		// pages, which MADV_DONTNEED would throw away: the data, and
		// what a loader relocated before making it read-only.
		if r.Writable || r.Anonymous != 0 {
			continue
		}
		if err := madvise(r, unix.MADV_DONTNEED); err != nil {
			return fmt.Errorf("madvise(MADV_DONTNEED): %w", err)
		}
	}
	return nil
}

func madvise(r Region, how int) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.Start, r.End-r.Start, uintptr(how)); errno != 0 {
		return errno
	}
	return nil
}

// iovec is struct iovec, holding an address of another process.
type iovec struct{ base, len uintptr }

// Process asks the kernel to reclaim process pid's pages of its
// executable (process_madvise: Linux 5.10, and the right to ptrace pid).
func Process(pid int) error {
	rs, err := exeRegions(strconv.Itoa(pid))
	if err != nil {
		return err
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	defer unix.Close(fd)
	for _, r := range rs {
		v := iovec{r.Start, r.End - r.Start}
		_, _, errno := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(fd), uintptr(unsafe.Pointer(&v)), 1, unix.MADV_PAGEOUT, 0, 0)
		if errno != 0 {
			return advice("process_madvise", errno)
		}
	}
	return nil
}

// ErrUnsupported is what a kernel without the advice answers.
var ErrUnsupported = errors.New("not supported by this kernel")

func advice(call string, err error) error {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("%s(MADV_PAGEOUT): %w", call, ErrUnsupported)
	}
	return fmt.Errorf("%s(MADV_PAGEOUT): %w", call, err)
}
