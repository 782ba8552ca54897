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
// mappings (madvise MADV_PAGEOUT; the shims' with process_madvise;
// containerd, built from cmd/containerd, pages itself out); what is still
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
// containerd's doing it itself.
//
// Pages another process maps too (a second edgeos on the same file) are
// left alone by the kernel. Kernels before 5.4 (MADV_PAGEOUT) and 5.10
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
type Region struct{ Start, End uintptr }

// Regions lists the mappings of the file with inode ino on device dev in
// a /proc/PID/maps listing.
func Regions(maps string, dev uint64, ino uint64) ([]Region, error) {
	var rs []Region
	sc := bufio.NewScanner(strings.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset major:minor inode [path]
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
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
		rs = append(rs, Region{uintptr(start), uintptr(end)})
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
	maps, err := os.ReadFile("/proc/" + pid + "/maps")
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
// read-around), not their neighbours.
func Self() error {
	rs, err := exeRegions("self")
	if err != nil {
		return err
	}
	for _, r := range rs {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.Start, r.End-r.Start, unix.MADV_RANDOM); errno != 0 {
			return fmt.Errorf("madvise(MADV_RANDOM): %w", errno)
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.Start, r.End-r.Start, unix.MADV_PAGEOUT); errno != 0 {
			return advice("madvise", errno)
		}
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

func advice(call string, errno syscall.Errno) error {
	if errno == unix.EINVAL || errno == unix.ENOSYS {
		return fmt.Errorf("%s(MADV_PAGEOUT): %w", call, ErrUnsupported)
	}
	return fmt.Errorf("%s(MADV_PAGEOUT): %w", call, errno)
}
