// Package cli is the edgeos command line: it turns flags, EDGEOS_*
// environment variables and the config file into each component's Config
// and runs it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/gomem"
	"github.com/edgeos/edgeos/pkg/logfilter"
	"github.com/edgeos/edgeos/pkg/logforward"
	"github.com/edgeos/edgeos/pkg/sdnotify"
	"github.com/edgeos/edgeos/pkg/version"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"k8s.io/klog/v2"
)

// envVar is the environment variable for a flag: EDGEOS_<NAME>.
func envVar(name string) []string {
	return []string{"EDGEOS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

// usageError keeps a bad flag to one line instead of a page of help.
func usageError(c *cli.Context, err error, _ bool) error {
	name := "edgeos"
	if c.Command != nil && c.Command.Name != "" {
		name += " " + c.Command.Name
	}
	return fmt.Errorf("%v (see '%s --help')", err, name)
}

// New builds the edgeos application.
func New() *cli.App {
	cli.VersionPrinter = func(*cli.Context) { fmt.Println(version.String()) }
	return &cli.App{
		Name:                 "edgeos",
		Usage:                "lightweight Kubernetes for the edge",
		Version:              version.String(),
		HideHelpCommand:      true,
		OnUsageError:         usageError,
		EnableBashCompletion: false,
		Commands: []*cli.Command{
			serverCommand(),
			agentCommand(),
			kubectlCommand(),
			helmCommand(),
			tokenCommand(),
			certificateCommand(),
			secretsEncryptCommand(),
			snapshotCommand(),
			checkConfigCommand(),
			imagesCommand(),
			killallCommand(),
			uninstallCommand(),
		},
	}
}

// signalContext ends on the first SIGINT or SIGTERM; a second one has its
// default effect, so a stuck shutdown can still be interrupted.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// runNode runs a server or an agent until a stop signal: behind the log
// relay (filtering unless --debug or -v, formatting with --log-format
// json, passing what it shows to own where the node ships its logs),
// telling it and systemd when the node is ready, and the relay when the
// stop begins.
func runNode(logs logging, own *logforward.Own, run func(ctx context.Context, ready func()) error) error {
	var relay *logfilter.Relay
	opts := logs.relay()
	if own != nil {
		opts.Tap = own.Write
	}
	if opts.Filter || opts.JSON || opts.Tap != nil {
		var err error
		if relay, err = logfilter.Start(opts); err != nil {
			return err
		}
		defer relay.Close()
		// klog's fatal exit must not leave its last lines in the relay
		klog.OsExit = func(code int) {
			relay.Close()
			os.Exit(code)
		}
	}
	ready := func() {
		if relay != nil {
			relay.Ready()
		}
		if err := sdnotify.Ready(); err != nil {
			logrus.Warnf("Telling systemd edgeos is ready: %v", err)
		}
	}
	return runUntilSignal(func(ctx context.Context) error {
		if relay != nil {
			stop := context.AfterFunc(ctx, relay.Stopping)
			defer stop()
		}
		return run(ctx, ready)
	})
}

// ownLogs is where edgeos's own log lines wait for the node's log
// forwarder; nil where logs are not shipped.
func ownLogs(l config.LogForward) *logforward.Own {
	if !l.On() {
		return nil
	}
	return logforward.NewOwn()
}

// runUntilSignal runs fn; an error caused only by the stop signal is none.
func runUntilSignal(fn func(ctx context.Context) error) error {
	ctx, cancel := signalContext()
	defer cancel()
	err := fn(ctx)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// sizeMemory sets the Go runtime's GC target and soft memory limit for a
// long-running server or agent (see pkg/gomem).
func sizeMemory() {
	b := gomem.Budget{GCPercent: gomem.GCPercent}
	avail, err := gomem.Available()
	if err != nil {
		logrus.Warnf("Go soft memory limit left unset: %v", err)
	} else {
		b = gomem.For(avail)
	}
	set := gomem.Apply(b, os.Getenv)
	logrus.Infof("Go runtime: GC target %d%%, soft memory limit %d MiB (0: as GOGC/GOMEMLIMIT say), %d MiB available",
		set.GCPercent, set.Limit>>20, avail>>20)
}

// logging is how a server or agent logs: --debug, -v, --log-format.
type logging struct {
	debug     bool
	verbosity int
	format    string
}

// everything: nothing filtered, edgeos's debug messages included
func (l logging) everything() bool { return l.debug || l.verbosity > 0 }

func (l logging) relay() logfilter.Options {
	return logfilter.Options{Filter: !l.everything(), JSON: l.format == "json"}
}

func setupLogging(l logging) {
	if l.format == "json" {
		logrus.SetFormatter(&logrus.JSONFormatter{})
	} else {
		logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	if l.everything() {
		logrus.SetLevel(logrus.DebugLevel)
	}
}
