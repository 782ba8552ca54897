// Package containerd runs the containerd edgeos carries (a program of its
// own, see pkg/containerd/programs) as a child process.
// Config, data, state and socket live under edgeos's own directories, never
// the host's /run/containerd. If edgeos dies, the kernel stops containerd
// with it, but shims and containers keep running; the containerd started by
// the next edgeos reattaches to them.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edgeos/edgeos/pkg/atomicfile"
	"github.com/edgeos/edgeos/pkg/containerd/programs"
	"github.com/edgeos/edgeos/pkg/pageout"
	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/edgeos/edgeos/pkg/runc"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Config places containerd.
type Config struct {
	// Root holds images and snapshots: <data-dir>/agent/containerd.
	Root string
	// State holds sockets and running bundles; on tmpfs: /run/edgeos/containerd.
	State string
	// BinDir holds containerd, its shim and runc, written there at start.
	BinDir string
	// ConfigFile is where the generated config.toml goes.
	ConfigFile string
	// CertsDir is containerd's registry host directory, one hosts.toml per
	// registry, written from Registries at every start.
	CertsDir     string
	Registries   registries.Plan
	SandboxImage string
	CNIBinDir    string
	CNIConfDir   string
	// SystemdCgroup selects runc's systemd cgroup driver.
	SystemdCgroup bool
	// RestrictOOMScoreAdj keeps containers from asking for an OOM score
	// below containerd's own; needed where edgeos lacks CAP_SYS_RESOURCE.
	RestrictOOMScoreAdj bool
	Debug               bool
	// ShimPageOutAfter is when, after its start, each runc shim hands its
	// start-up pages back (pageout.ShimAfterEnv); 0: never.
	ShimPageOutAfter time.Duration
	// Metrics is where the count of restarts is published; nil: nowhere.
	Metrics prometheus.Registerer
}

// Address is containerd's socket.
func (c Config) Address() string { return filepath.Join(c.State, "containerd.sock") }

// Address is the running containerd's socket.
func (d *Containerd) Address() string { return d.cfg.Address() }

func (c Config) shimPath() string { return filepath.Join(c.BinDir, programs.Shim) }

func (c Config) runcPath() string { return filepath.Join(c.BinDir, runc.Name) }

// Containerd is the running child.
type Containerd struct{ cfg Config }

// New prepares containerd; Run starts it.
func New(cfg Config) *Containerd { return &Containerd{cfg: cfg} }

func (d *Containerd) Name() string { return "containerd" }

// Run starts containerd, reports ready once its socket answers, and stops
// it when ctx ends. If containerd exits on its own after its first start,
// it is started again, after a pause that doubles with each exit in a row
// (restartPause up to maxRestartPause): the shims, and so the pods, keep
// running meanwhile, and the kubelet reconnects. A first start that fails
// is the component's error.
func (d *Containerd) Run(ctx context.Context, ready func()) error {
	if err := d.prepare(); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	restarts := telemetry.Counter(d.cfg.Metrics, prometheus.CounterOpts{Subsystem: "containerd", Name: "restarts_total",
		Help: "Times containerd exited on its own and was started again."})
	pause := restartPause
	for started := false; ; {
		since := time.Now()
		err := d.runOnce(ctx, func() {
			started = true
			ready()
		})
		if ctx.Err() != nil {
			return nil
		}
		if !started {
			return err
		}
		if time.Since(since) > stableFor {
			pause = restartPause
		}
		logrus.Errorf("%v; starting it again in %s (pods keep running)", err, pause)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		restarts.Inc()
		pause = min(2*pause, maxRestartPause)
	}
}

// The pause before containerd is started again after it exited: it
// doubles with each exit in a row, up to maxRestartPause, and starts over
// once containerd has run for stableFor.
const (
	restartPause    = time.Second
	maxRestartPause = time.Minute
	stableFor       = 10 * time.Minute
)

// runOnce runs one containerd process until it exits or ctx ends, calling
// ready once its socket answers.
func (d *Containerd) runOnce(ctx context.Context, ready func()) error {
	cmd := &exec.Cmd{
		Path:   filepath.Join(d.cfg.BinDir, programs.Containerd),
		Args:   []string{programs.Containerd, "--config", d.cfg.ConfigFile},
		Env:    d.env(),
		Stdout: os.Stderr,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			// a terminal's Ctrl-C goes to edgeos, which stops containerd in order
			Setpgid: true,
			// containerd goes when edgeos goes, even on SIGKILL; the shims stay
			Pdeathsig: syscall.SIGTERM,
		},
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting containerd: %w", err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once waitErr is set
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	if err := d.waitSocket(ctx, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return err
	}
	logrus.Infof("containerd is running (pid %d, socket %s)", cmd.Process.Pid, d.cfg.Address())
	ready()

	select {
	case <-exited:
		return fmt.Errorf("containerd (pid %d) exited: %v", cmd.Process.Pid, waitErr)
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return nil
}

// env is containerd's environment, which its shims inherit: edgeos's, with
// BinDir first in PATH, the GC target, the shims' page-out and no heap
// profile (nothing reads one; its sampling table alone is resident memory
// in every shim).
func (d *Containerd) env() []string {
	env := withGODEBUG(withPath(os.Environ(), d.cfg.BinDir), "memprofilerate=0")
	return append(env, "GOGC=50", pageout.ShimAfterEnv+"="+d.cfg.ShimPageOutAfter.String())
}

// withGODEBUG adds key=value to the GODEBUG of env, unless it sets key.
func withGODEBUG(env []string, setting string) []string {
	key, _, _ := strings.Cut(setting, "=")
	out := make([]string, 0, len(env)+1)
	debug := setting
	for _, e := range env {
		v, ok := strings.CutPrefix(e, "GODEBUG=")
		if !ok {
			out = append(out, e)
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if k, _, _ := strings.Cut(s, "="); k == key {
				return env
			}
		}
		if v != "" {
			debug = v + "," + setting
		}
	}
	return append(out, "GODEBUG="+debug)
}

// prepare writes the config, containerd, its shim and runc.
func (d *Containerd) prepare() error {
	for _, dir := range []string{d.cfg.Root, d.cfg.State, d.cfg.BinDir, filepath.Dir(d.cfg.ConfigFile)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	b, err := d.cfg.render()
	if err != nil {
		return err
	}
	// the host's /etc/containerd/certs.d is never read: the directory is
	// set, empty when there is no registries.yaml
	if err := atomicfile.ReplaceDir(d.cfg.CertsDir, d.cfg.Registries.Hosts, 0o600); err != nil {
		return err
	}
	// 0600: it holds registry credentials
	if err := atomicfile.Write(d.cfg.ConfigFile, b, 0o600); err != nil {
		return err
	}
	if err := programs.Install(d.cfg.BinDir); err != nil {
		return err
	}
	return runc.Install(d.cfg.runcPath())
}

// socketTimeout bounds containerd's start; it opens its socket in well
// under a second on a Raspberry Pi.
const socketTimeout = 2 * time.Minute

func (d *Containerd) waitSocket(ctx context.Context, exited <-chan struct{}) error {
	deadline := time.After(socketTimeout)
	for {
		if conn, err := net.DialTimeout("unix", d.cfg.Address(), time.Second); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("containerd exited while starting")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("containerd did not open its socket %s within %s", d.cfg.Address(), socketTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// withPath puts dir first on PATH, where containerd looks for its shim.
func withPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
			continue
		}
		out = append(out, e)
	}
	return append(out, "PATH="+dir+":"+path)
}

// HasSysResource reports whether this process holds CAP_SYS_RESOURCE,
// without which runc cannot lower a container's oom_score_adj.
func HasSysResource() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err != nil {
				return false, err
			}
			const capSysResource = 24
			return caps&(1<<capSysResource) != 0, nil
		}
	}
	return false, errors.New("no CapEff line in /proc/self/status")
}
