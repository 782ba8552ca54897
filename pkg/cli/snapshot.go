package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgeos/edgeos/pkg/server"
	"github.com/edgeos/edgeos/pkg/snapshot"
	"github.com/urfave/cli/v2"
)

func snapshotCommand() *cli.Command {
	var dataDir, dir, node, tok string
	flags := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{
			dataDirFlag(&dataDir),
			stringFlag("snapshot-dir", "", "where snapshots are (default: <data-dir>/server/db/snapshots)", &dir),
			nodeNameFlag(&node),
		}, extra...)
	}
	target := func() (snapshot.Server, error) {
		if os.Geteuid() != 0 {
			return snapshot.Server{}, errNotRoot
		}
		if node == "" {
			h, err := os.Hostname()
			if err != nil {
				return snapshot.Server{}, err
			}
			node = strings.ToLower(h)
		}
		return server.SnapshotServer(dataDir, node, dir), nil
	}
	return &cli.Command{
		Name:         "snapshot",
		Usage:        "save, list, delete and restore snapshots of the server's embedded datastore",
		OnUsageError: usageError,
		Subcommands: []*cli.Command{{
			Name: "save", Usage: "take a snapshot now (the server may be running)", Flags: flags(), OnUsageError: usageError,
			Action: func(c *cli.Context) error {
				s, err := target()
				if err != nil {
					return err
				}
				cred, err := server.StoredCredential(dataDir)
				if err != nil {
					return fmt.Errorf("the server's token: %w", err)
				}
				path, err := snapshot.Save(s, snapshot.OnDemand, cred, time.Now())
				if err != nil {
					return err
				}
				fmt.Println(path)
				return nil
			},
		}, {
			Name: "list", Usage: "list the snapshots", Flags: flags(), OnUsageError: usageError,
			Action: func(c *cli.Context) error {
				s, err := target()
				if err != nil {
					return err
				}
				l, err := snapshot.List(s.Snapshots)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tKIND\tNODE\tTAKEN\tSIZE")
				for _, i := range l {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", i.Name, i.Kind, i.Node, i.Time.Format(time.RFC3339), i.Size)
				}
				return w.Flush()
			},
		}, {
			Name: "delete", Usage: "delete snapshots by name", ArgsUsage: "NAME…", Flags: flags(), OnUsageError: usageError,
			Action: func(c *cli.Context) error {
				s, err := target()
				if err != nil {
					return err
				}
				if c.NArg() == 0 {
					return usageError(c, fmt.Errorf("name the snapshots to delete"), true)
				}
				return snapshot.Delete(s.Snapshots, c.Args().Slice()...)
			},
		}, {
			Name: "restore", Usage: "restore a snapshot into the stopped server's data dir (as 'edgeos server --cluster-reset --restore-path FILE')",
			ArgsUsage: "FILE", OnUsageError: usageError,
			Flags: flags(stringFlag("token", "", "the token the snapshot was taken under (default: the server's stored one)", &tok)),
			Action: func(c *cli.Context) error {
				s, err := target()
				if err != nil {
					return err
				}
				if c.NArg() != 1 {
					return usageError(c, fmt.Errorf("name one snapshot file"), true)
				}
				cred, err := server.RestoreCredential(dataDir, tok)
				if err != nil {
					return err
				}
				aside, err := snapshot.Restore(s, c.Args().First(), cred, time.Now())
				for _, a := range aside {
					fmt.Println("kept", a)
				}
				if err != nil {
					return err
				}
				fmt.Println("restored; start the edgeos server")
				return nil
			},
		}},
	}
}
