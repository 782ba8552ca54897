// Package teardown stops edgeos on a machine and removes what it left
// there (`edgeos killall`, `edgeos uninstall`): the edgeos process, its
// containerd and shims and every container under them, the mounts of pods
// and of the runtime, the pod network's links, the cluster DNS address and
// the iptables rules of edgeos and kube-proxy, edgeos's nftables table of
// NetworkPolicy rules; and, to uninstall, the data dir and the
// configuration directory. Every step works on what it finds,
// so a second run, or a run where edgeos never started, changes nothing
// and succeeds.
//
// Only what belongs to this machine's edgeos is touched: the edgeos
// process in the caller's network namespace, the programs run from the data
// dir's bin directory, and the processes below their shims.
package teardown

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/cni"
	"github.com/edgeos/edgeos/pkg/netpol"
)

// Config says which edgeos to stop.
type Config struct {
	// DataDir is the data dir of the edgeos to stop.
	DataDir string
	// RunDir is the node's runtime state (/run/edgeos).
	RunDir string
	// ConfigDir is removed by Uninstall (/etc/edgeos).
	ConfigDir string
	// Grace is how long edgeos has to stop on SIGTERM before SIGKILL.
	Grace time.Duration
	// Say reports each step done, for the command's output.
	Say func(format string, args ...any)
}

// Killall stops edgeos and everything it started, and removes its mounts,
// links, address and firewall rules. It returns what it could not undo.
func Killall(cfg Config) error {
	if cfg.Say == nil {
		cfg.Say = func(string, ...any) {}
	}
	var errs []error
	dns := clusterDNS(cfg.DataDir) // before anything is removed
	if err := stopProcesses(cfg); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, unmountAll(cfg)...)
	for _, dir := range []string{cfg.RunDir, "/run/netns"} {
		errs = append(errs, removeNetNS(cfg, dir))
	}
	if err := removeUnmounted(cfg.RunDir); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, removeLinks(cfg, cni.Bridge, cni.VXLANDevice))
	errs = append(errs, removeAddresses(cfg, dns))
	errs = append(errs, removeRules(cfg))
	errs = append(errs, netpol.Remove())
	return errors.Join(errs...)
}

// Uninstall is Killall, then the removal of the data dir and of the
// configuration directory.
func Uninstall(cfg Config) error {
	if err := Killall(cfg); err != nil {
		return fmt.Errorf("%w (the data dir is kept until edgeos is stopped)", err)
	}
	var errs []error
	for _, dir := range []string{cfg.DataDir, cfg.ConfigDir} {
		if dir == "" || dir == "/" || !filepath.IsAbs(dir) {
			continue
		}
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := removeUnmounted(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.Say("removed %s", dir)
	}
	return errors.Join(errs...)
}

// removeUnmounted removes dir and all below it, unless something is still
// mounted there: removing through a mount (a volume bound from elsewhere
// on the machine) would delete what is not edgeos's.
func removeUnmounted(dir string) error {
	points, err := mountPoints()
	if err != nil {
		return err
	}
	for _, m := range points {
		if under(m, dir) {
			return fmt.Errorf("not removing %s: %s is still mounted", dir, m)
		}
	}
	return os.RemoveAll(dir)
}
