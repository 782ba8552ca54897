package checkconfig

import (
	"slices"
	"strings"
)

// Controllers a node cannot do without, per cgroup version.
var (
	requiredV2 = []string{"cpu", "cpuset", "memory", "pids"}
	requiredV1 = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer"}
)

// memoryHint is the fix for the most common edge failure: Raspberry Pi OS
// and some other ARM images boot with the memory controller disabled.
const memoryHint = `add "cgroup_memory=1 cgroup_enable=memory" to the kernel command line (Raspberry Pi: /boot/firmware/cmdline.txt) and reboot`

func (c *checker) cgroups() {
	if ctrls, ok := c.h.cgroupV2Controllers(); ok {
		c.r.Cgroup = "cgroup v2"
		c.requireControllers("cgroup v2", requiredV2, ctrls, []string{"io"})
		return
	}
	c.r.Cgroup = "cgroup v1"
	enabled := c.h.cgroupV1Enabled()
	if len(enabled) == 0 {
		c.r.Cgroup = "no cgroups"
		c.add("cgroups", Missing, "no cgroup hierarchy found (/proc/cgroups is empty and /sys/fs/cgroup has no cgroup2): the kernel needs CONFIG_CGROUPS and mounted controllers")
		return
	}
	c.requireControllers("cgroup v1", requiredV1, enabled, []string{"blkio", "hugetlb"})
}

func (c *checker) requireControllers(version string, required, present, optional []string) {
	var missing []string
	for _, ctrl := range required {
		if !slices.Contains(present, ctrl) {
			missing = append(missing, ctrl)
		}
	}
	switch {
	case slices.Contains(missing, "memory"):
		c.add("cgroup controllers", Missing, "%s lacks %s; the memory controller is off: %s", version, strings.Join(missing, ", "), memoryHint)
	case len(missing) > 0:
		c.add("cgroup controllers", Missing, "%s lacks %s (kernel config or boot options disable them)", version, strings.Join(missing, ", "))
	default:
		c.add("cgroup controllers", OK, "%s: %s", version, strings.Join(required, ", "))
	}
	for _, ctrl := range optional {
		if !slices.Contains(present, ctrl) {
			c.add("cgroup "+ctrl, Warn, "the %s controller is off: disk I/O limits will not apply", ctrl)
		}
	}
}
