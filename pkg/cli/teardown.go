package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/teardown"
	"github.com/urfave/cli/v2"
)

// configDir holds the config file and the admin kubeconfig by default.
const configDir = "/etc/edgeos"

func killallCommand() *cli.Command {
	return teardownCommand("killall",
		"stop edgeos and everything it started here: containers, mounts, links, iptables rules (the data dir stays)",
		teardown.Killall, "edgeos is stopped")
}

func uninstallCommand() *cli.Command {
	return teardownCommand("uninstall",
		"killall, then remove the data dir and "+configDir+" (the binary stays)",
		teardown.Uninstall, "edgeos is stopped and its data removed")
}

func teardownCommand(name, usage string, run func(teardown.Config) error, done string) *cli.Command {
	var dataDir string
	return &cli.Command{
		Name:         name,
		Usage:        usage,
		Flags:        []cli.Flag{dataDirFlag(&dataDir)},
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			cfg, err := teardownConfig(c, dataDir)
			if err != nil {
				return err
			}
			if err := run(cfg); err != nil {
				return err
			}
			fmt.Println(done)
			return nil
		},
	}
}

func teardownConfig(c *cli.Context, dataDir string) (teardown.Config, error) {
	if c.NArg() > 0 {
		return teardown.Config{}, usageError(c, errUnexpectedArgs(c.Args().Slice()), true)
	}
	if !filepath.IsAbs(dataDir) || filepath.Clean(dataDir) == "/" {
		return teardown.Config{}, fmt.Errorf("--data-dir %q must be an absolute path below /", dataDir)
	}
	if os.Geteuid() != 0 {
		return teardown.Config{}, errNotRoot
	}
	return teardown.Config{
		DataDir:   filepath.Clean(dataDir),
		RunDir:    agent.RunDir,
		ConfigDir: configDir,
		Grace:     30 * time.Second,
		Say:       func(format string, args ...any) { fmt.Printf(format+"\n", args...) },
	}, nil
}
