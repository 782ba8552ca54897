package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/secretsencrypt"
	"github.com/edgeos/edgeos/pkg/server"
	"github.com/urfave/cli/v2"
)

func secretsEncryptCommand() *cli.Command {
	var dataDir string
	flags := []cli.Flag{dataDirFlag(&dataDir)}
	env := func() (secretsencrypt.Env, error) {
		if os.Geteuid() != 0 {
			return secretsencrypt.Env{}, errNotRoot
		}
		// client-go's default of 5 requests a second would make that
		// the rate at which Secrets are written again
		cs, err := kubeconfig.ClientWithRate(server.AdminKubeconfig(dataDir), 500, 1000)
		if err != nil {
			return secretsencrypt.Env{}, err
		}
		return secretsencrypt.Env{
			File: server.EncryptionConfig(dataDir), Client: cs,
			Progress: func(format string, args ...any) { fmt.Printf(format+"\n", args...) },
		}, nil
	}
	change := func(name, usage string, plan func(secretsencrypt.Config) ([]secretsencrypt.Step, error)) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, Flags: flags, OnUsageError: usageError,
			Action: func(c *cli.Context) error {
				e, err := env()
				if err != nil {
					return err
				}
				return runUntilSignal(func(ctx context.Context) error { return secretsencrypt.Run(ctx, e, plan) })
			},
		}
	}
	withKey := func(steps func(secretsencrypt.Config, secretsencrypt.Key) []secretsencrypt.Step) func(secretsencrypt.Config) ([]secretsencrypt.Step, error) {
		return func(c secretsencrypt.Config) ([]secretsencrypt.Step, error) {
			k, err := c.NewKey(time.Now())
			return steps(c, k), err
		}
	}
	plain := func(steps func(secretsencrypt.Config) []secretsencrypt.Step) func(secretsencrypt.Config) ([]secretsencrypt.Step, error) {
		return func(c secretsencrypt.Config) ([]secretsencrypt.Step, error) { return steps(c), nil }
	}
	return &cli.Command{
		Name:         "secrets-encrypt",
		Usage:        "show and change how Secrets are encrypted at rest (run on the server)",
		OnUsageError: usageError,
		Subcommands: []*cli.Command{
			{
				Name: "status", Usage: "whether Secrets are encrypted, the keys, and whether the apiserver uses this configuration",
				Flags: flags, OnUsageError: usageError,
				Action: func(c *cli.Context) error {
					e, err := env()
					if err != nil {
						return err
					}
					return secretsStatus(c.Context, e)
				},
			},
			change("enable", "encrypt Secrets, and write every Secret again encrypted", withKey(secretsencrypt.EnableSteps)),
			change("disable", "stop encrypting Secrets, and write every Secret again unencrypted", plain(secretsencrypt.DisableSteps)),
			change("rotate-keys", "encrypt with a new key, write every Secret again with it, drop the old key; run it again to finish one cut short", withKey(secretsencrypt.RotationSteps)),
			change("reencrypt", "write every Secret again as the configuration says", plain(secretsencrypt.ReencryptSteps)),
		},
	}
}

func secretsStatus(ctx context.Context, e secretsencrypt.Env) error {
	b, err := os.ReadFile(e.File)
	if err != nil {
		return err
	}
	c, err := secretsencrypt.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", e.File, err)
	}
	state := "disabled"
	if c.Enabled {
		state = "enabled (secretbox)"
	}
	fmt.Println("Encryption:", state)
	var names []string
	for i, k := range c.Keys {
		n := k.Name
		if i == 0 && c.Enabled {
			n += " (encrypts)"
		}
		names = append(names, n)
	}
	fmt.Println("Keys:", strings.Join(append(names, "none")[:max(len(names), 1)], ", "))
	loaded, err := secretsencrypt.Loaded(ctx, e.Client, secretsencrypt.Hash(b))
	switch {
	case err != nil:
		fmt.Println("Apiserver: cannot tell:", err)
	case loaded:
		fmt.Println("Apiserver: uses this configuration")
	default:
		fmt.Println("Apiserver: has not read this configuration yet")
	}
	if len(c.Keys) > 1 {
		fmt.Println("A key rotation is unfinished: 'edgeos secrets-encrypt rotate-keys' finishes it")
	}
	return nil
}
