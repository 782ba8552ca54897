package logfilter

import (
	"regexp"
	"strings"
)

// Phase is where the process is in its life, which decides what upstream
// noise is hidden.
type Phase int

const (
	// Starting: the components wait for each other (the kubelet for its
	// Node, the controllers for the API), and say so at levels W and E.
	Starting Phase = iota
	// Running: edgeos reported ready; what goes wrong now is news.
	Running
	// Stopping: errors now come from edgeos's own stop (a kubelet loop
	// whose containerd is gone), not from a fault.
	Stopping
)

// klogLine is a klog or textlogger header: severity, date and time,
// thread, file:line.
var klogLine = regexp.MustCompile(`^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^ \]]+:\d+\] `)

// logrusLine is a line of containerd's log (logrus's text format).
var logrusLine = regexp.MustCompile(`^time="[^"]*" level=(\w+) `)

// alwaysNoise are upstream warnings and errors that never mean a fault
// on an edgeos node.
var alwaysNoise = []string{
	// the apiserver lists API versions it does not serve, one line each
	"because it has no resources.",
	// the kubelet's static pod path, which edgeos leaves empty
	"The manifest file is empty, ignoring.",
	// containerd probes for fs-verity, which few file systems have
	"failed check for fsverity support",
	// the node IPAM controller, reading a Node from a cache that has not
	// seen the CIDR it just gave it, gives a second one; the apiserver
	// refuses it and the controller releases it (the node keeps its
	// first): three lines at level E, no fault
	"may specify no more than one CIDR for each IP family",
	// a controller made again when its server leads again finds its
	// package's metrics registered by the first, which go on counting
	`"unable to register metrics" err="duplicate metrics collector registration attempted"`,
	// registries.yaml's credentials go where containerd's CRI looks them
	// up by host (pkg/registries); it calls that place deprecated
	"`configs` is deprecated, please use `config_path` instead",
	"Found 'Registry.Configs' in CRI config which is incompatible with transfer service",
}

// startupNoise are the messages of components waiting for one another
// in one process: hidden while it starts, shown once it runs, where they
// would mean something is wrong.
var startupNoise = []string{
	`not found`, // node "x", namespaces "kube-system", the kubelet's checkpoint
	"node is not registered yet",
	"connect: connection refused",
	"Failed to ensure lease exists, will retry",
	"Found stale data, removed previous endpoints on kubernetes service",
	// a restarted apiserver writes the kubernetes Service's endpoints again
	`Resetting endpoints for master service "kubernetes"`,
	"is not allocated; repairing",
	"PLEG is not healthy: pleg has yet to be successful",
	"Image garbage collection failed once. Stats initialization may not have completed yet",
	"failed to check if we have separate container filesystem",
	"failed to load cni during init",
	"no network config found in",
}

// decision is what becomes of one line.
type decision struct {
	show bool
	// continued: the line continues the entry before it (it is indented,
	// as a stack trace or a wrapped message is) and shares its fate
	continued bool
}

// decide classifies one line for a process in phase p. A line that is
// neither an entry of klog or logrus nor indented (a program's plain
// message) is shown.
func decide(line string, p Phase) decision {
	if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		return decision{continued: true}
	}
	if m := klogLine.FindStringSubmatch(line); m != nil {
		return decision{show: shownAt(m[1][0], line, p)}
	}
	if m := logrusLine.FindStringSubmatch(line); m != nil {
		var sev byte
		switch m[1] {
		case "warning":
			sev = 'W'
		case "error":
			sev = 'E'
		case "fatal", "panic":
			sev = 'F'
		default:
			sev = 'I'
		}
		return decision{show: shownAt(sev, line, p)}
	}
	return decision{show: true}
}

// shownAt reports whether an entry of severity sev is shown in phase p.
func shownAt(sev byte, line string, p Phase) bool {
	switch sev {
	case 'F':
		return true
	case 'I':
		return false
	}
	if p == Stopping {
		return false
	}
	for _, s := range alwaysNoise {
		if strings.Contains(line, s) {
			return false
		}
	}
	if p == Starting {
		for _, s := range startupNoise {
			if strings.Contains(line, s) {
				return false
			}
		}
	}
	return true
}
