package pageout

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A copy of the test binary run with this set sleeps: a process whose
// program file no other process maps.
const helperEnv = "PAGEOUT_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// page out when signalled, saying so; read every page of the
		// program's mappings in, and say so
		OnSignal(func(err error) {
			if err != nil {
				os.Stdout.WriteString(err.Error() + "\n")
				return
			}
			os.Stdout.WriteString("paged out\n")
		})
		if err := touchProgram(); err != nil {
			os.Stdout.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("ready\n")
		for {
			time.Sleep(time.Hour)
		}
	}
	os.Exit(m.Run())
}

func TestRegions(t *testing.T) {
	maps := `00400000-00403000 r--p 00000000 fd:01 1234 /usr/local/bin/edgeos
00403000-04ed2000 r-xp 00003000 fd:01 1234 /usr/local/bin/edgeos (deleted)
04ed2000-04ed5000 r--p 00000000 fd:02 1234 /other/device/same/inode
0c000000-0c400000 rw-p 00000000 00:00 0
7f0000000000-7f0000001000 r--p 00000000 fd:01 99 /usr/lib/libc.so.6
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
`
	rs, err := Regions(maps, unix.Mkdev(0xfd, 1), 1234)
	if err != nil {
		t.Fatal(err)
	}
	want := []Region{{Start: 0x400000, End: 0x403000}, {Start: 0x403000, End: 0x4ed2000}}
	if !slices.Equal(rs, want) {
		t.Fatalf("regions %+v, want %+v", rs, want)
	}
	// smaps: the same headers, each followed by the mapping's attributes
	smaps := `00400000-00403000 r-xp 00000000 fd:01 1234 /usr/local/bin/edgeos
Rss:                  12 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00403000-00404000 r--p 00003000 fd:01 1234 /usr/local/bin/edgeos
Anonymous:             4 kB
00404000-00405000 rw-p 00004000 fd:01 1234 /usr/local/bin/edgeos
Anonymous:             4 kB
7f0000000000-7f0000001000 r--p 00000000 fd:01 99 /usr/lib/libc.so.6
Anonymous:             4 kB
`
	rs, err = Regions(smaps, unix.Mkdev(0xfd, 1), 1234)
	if err != nil {
		t.Fatal(err)
	}
	want = []Region{{Start: 0x400000, End: 0x403000}, {Start: 0x403000, End: 0x404000, Anonymous: 4}, {Start: 0x404000, End: 0x405000, Writable: true, Anonymous: 4}}
	if !slices.Equal(rs, want) {
		t.Fatalf("regions from smaps %+v, want %+v", rs, want)
	}
	if _, err := Regions("00400000-00403000 r--p 00000000 fd:01 1234 /x\nAnonymous: many kB\n", unix.Mkdev(0xfd, 1), 1234); err == nil {
		t.Error("a bad smaps value was taken")
	}
	if _, err := Regions("00400000-00403000 r--p 00000000 fd:01\n", 1, 1); err == nil {
		t.Error("a short line was taken")
	}
	if _, err := Regions("zz-00403000 r--p 00000000 fd:01 1234 /x\n", unix.Mkdev(0xfd, 1), 1234); err == nil {
		t.Error("a bad range was taken")
	}
}

// touchProgram reads every page this process maps of its program.
func touchProgram() error {
	rs, err := exeRegions("self")
	if err != nil {
		return err
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return err
	}
	defer mem.Close()
	buf := make([]byte, 1<<16)
	for _, r := range rs {
		for off := r.Start; off < r.End; off += uintptr(len(buf)) {
			n := min(uintptr(len(buf)), r.End-off)
			if _, err := mem.ReadAt(buf[:n], int64(off)); err != nil {
				return err
			}
		}
	}
	return nil
}

// exeResident sums the resident bytes of pid's mappings of its program.
func exeResident(t *testing.T, pid string) int64 {
	var total int64
	exeSmaps(t, pid, func(f []string) {
		if len(f) == 3 && f[0] == "Rss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			total += kb << 10
		}
	})
	return total
}

// exeSmaps calls line with the fields of each smaps line about pid's
// mappings of its program.
func exeSmaps(t *testing.T, pid string, line func(fields []string)) {
	rs, err := exeRegions(pid)
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/" + pid + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, l := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			s, _, _ := strings.Cut(f[0], "-")
			start, _ := strconv.ParseUint(s, 16, 64)
			in = false
			for _, r := range rs {
				in = in || uintptr(start) == r.Start
			}
			continue
		}
		if in {
			line(f)
		}
	}
}

// skipUnlessReclaimable skips where the kernel cannot drop the pages of a
// program file: tmpfs (no swap to put them in) or a kernel without the
// advice.
func skipUnlessReclaimable(t *testing.T, exe string, err error) {
	var fs unix.Statfs_t
	if unix.Statfs(exe, &fs) == nil && fs.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs", exe)
	}
	if err != nil && strings.Contains(err.Error(), ErrUnsupported.Error()) {
		t.Skip(err)
	}
}

// written is in the program's data (initialised, so not zero-filled):
// TestSelf changes it before the page-out, which must keep the change.
var written = 1

func TestSelf(t *testing.T) {
	written = 2
	before := exeResident(t, "self")
	err := Self()
	skipUnlessReclaimable(t, "/proc/self/exe", err)
	if err != nil {
		t.Fatal(err)
	}
	// the code running now comes straight back; the rest stays out
	after := exeResident(t, "self")
	t.Logf("test binary: %d → %d kB", before>>10, after>>10)
	if after >= before/2 {
		t.Errorf("resident pages of the test's program: %d → %d kB", before>>10, after>>10)
	}
	// and what comes back comes without its neighbours
	if n, rr := randomRead(t, "self"); rr != n || n == 0 {
		t.Errorf("%d of the program's %d mappings are marked for random reads (VmFlags rr)", rr, n)
	}
	if written != 2 {
		t.Errorf("a variable written before the page-out reads %d after it, want 2: the data went back to the file's", written)
	}
}

// Pages that another process maps too, which the kernel does not reclaim,
// leave this process's mappings all the same, and stay the other's.
func TestSelfShared(t *testing.T) {
	dir := t.TempDir()
	one, out := helper(t, dir)
	other, _ := helper(t, dir)
	stop(t, other)
	pid, otherPid := strconv.Itoa(one.Process.Pid), strconv.Itoa(other.Process.Pid)
	before, otherBefore := exeResident(t, pid), exeResident(t, otherPid)
	if err := one.Process.Signal(Signal); err != nil {
		t.Fatal(err)
	}
	line, err := out.ReadString('\n')
	if line != "paged out\n" {
		skipUnlessReclaimable(t, filepath.Join(dir, "prog"), errors.New(line))
		t.Fatalf("the helper said %q %v, want that it paged itself out", line, err)
	}
	stop(t, one)
	after, otherAfter := exeResident(t, pid), exeResident(t, otherPid)
	t.Logf("helper: %d → %d kB; the other on the same file: %d → %d kB", before>>10, after>>10, otherBefore>>10, otherAfter>>10)
	if after >= before/2 {
		t.Errorf("resident pages of the helper's program, which another process maps too: %d → %d kB", before>>10, after>>10)
	}
	if otherAfter < otherBefore*9/10 {
		t.Errorf("the other process's resident pages of the same program: %d → %d kB, want them left alone", otherBefore>>10, otherAfter>>10)
	}
}

// randomRead counts process pid's mappings of its program and those of
// them whose VmFlags in smaps carry rr (MADV_RANDOM).
func randomRead(t *testing.T, pid string) (n, rr int) {
	exeSmaps(t, pid, func(f []string) {
		if len(f) > 0 && f[0] == "VmFlags:" {
			n++
			if slices.Contains(f[1:], "rr") {
				rr++
			}
		}
	})
	return n, rr
}

// helper runs a copy of the test binary in dir (one copy for all the
// helpers of dir), sleeping, and returns it
// with its output once its pages are resident.
func helper(t *testing.T, dir string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "prog")
	if _, err := os.Stat(prog); err != nil {
		if out, err := exec.Command("cp", exe, prog).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		// written back, as an installed program is: the kernel does not
		// page out dirty pages, and how many are still dirty depends on
		// the moment
		if out, err := exec.Command("sync", prog).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	cmd := exec.Command(prog)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	return cmd, r
}

// stop stops the helper, so that what is resident after a page-out does
// not depend on what its runtime happened to run meanwhile (under load,
// its sysmon and timers fault pages back, each with its read-around).
func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stat := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"
	for i := 0; ; i++ {
		b, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		// the state follows the command name, which ends with ")"
		if _, rest, _ := strings.Cut(string(b), ") "); strings.HasPrefix(rest, "T") {
			return
		}
		if i == 1000 {
			t.Fatalf("the helper did not stop: %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcess(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := helper(t, dir)
	stop(t, cmd)
	pid := strconv.Itoa(cmd.Process.Pid)
	before := exeResident(t, pid)
	err := Process(cmd.Process.Pid)
	skipUnlessReclaimable(t, filepath.Join(dir, "prog"), err)
	if err != nil {
		t.Fatal(err)
	}
	// a stopped program uses none of its pages
	after := exeResident(t, pid)
	t.Logf("helper: %d → %d kB", before>>10, after>>10)
	if after >= before/4 {
		t.Errorf("resident pages of the helper's program: %d → %d kB", before>>10, after>>10)
	}
}

func TestTrim(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := helper(t, dir)
	skipUnlessReclaimable(t, filepath.Join(dir, "prog"), Self())
	stop(t, cmd)
	tr := New(Config{BinDir: dir})
	if got := tr.programs(); len(got) != 1 || got[0] != (program{cmd.Process.Pid, "prog"}) {
		t.Fatalf("programs of %s: %v, want [%d]", dir, got, cmd.Process.Pid)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	before := exeResident(t, pid)
	tr.pageOut()
	if after := exeResident(t, pid); after >= before/4 {
		t.Errorf("resident pages of the program in BinDir: %d → %d kB", before>>10, after>>10)
	}
}

// A program named in SelfPaging is not paged out from outside but sent
// Signal, and pages itself out, its mappings marked for random reads.
func TestTrimSignalsSelfPaging(t *testing.T) {
	dir := t.TempDir()
	cmd, out := helper(t, dir)
	skipUnlessReclaimable(t, filepath.Join(dir, "prog"), Self())
	pid := strconv.Itoa(cmd.Process.Pid)
	before := exeResident(t, pid)
	New(Config{BinDir: dir, SelfPaging: []string{"prog"}}).pageOut()
	if line, err := out.ReadString('\n'); line != "paged out\n" {
		t.Fatalf("the program in SelfPaging said %q %v, want that it paged itself out", line, err)
	}
	// it runs on after its page-out, as TestSelf does
	if after := exeResident(t, pid); after >= before/2 {
		t.Errorf("resident pages of the program in SelfPaging: %d → %d kB", before>>10, after>>10)
	}
	if n, rr := randomRead(t, pid); n == 0 || rr != n {
		t.Errorf("%d of the program's %d mappings are marked for random reads: it was paged out from outside, not by itself", rr, n)
	}
}

// A program named in OwnClock pages itself out on its own schedule: the
// page-out leaves it alone.
func TestTrimLeavesOwnClock(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := helper(t, dir)
	skipUnlessReclaimable(t, filepath.Join(dir, "prog"), Self())
	stop(t, cmd)
	pid := strconv.Itoa(cmd.Process.Pid)
	before := exeResident(t, pid)
	New(Config{BinDir: dir, OwnClock: []string{"prog"}}).pageOut()
	if after := exeResident(t, pid); after < before*9/10 {
		t.Errorf("resident pages of the program in OwnClock: %d → %d kB, want them left alone", before>>10, after>>10)
	}
}
