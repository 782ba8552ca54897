package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/renewal"
	"github.com/edgeos/edgeos/pkg/server"
	"github.com/urfave/cli/v2"
)

func certificateCommand() *cli.Command {
	var dataDir, tok string
	return &cli.Command{
		Name:         "certificate",
		Usage:        "show or renew the certificates of this server or agent",
		OnUsageError: usageError,
		Subcommands: []*cli.Command{{
			Name:         "check",
			Usage:        "list every certificate with its expiry; exit 1 if one is expired or due for renewal",
			OnUsageError: usageError,
			Flags:        []cli.Flag{dataDirFlag(&dataDir)},
			Action: func(c *cli.Context) error {
				sts, err := renewal.Statuses(certificateFiles(dataDir), time.Now())
				if err != nil {
					return err
				}
				if len(sts) == 0 {
					return fmt.Errorf("no certificates under %s: has edgeos run with this --data-dir?", dataDir)
				}
				w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "FILE\tSUBJECT\tEXPIRES\tSTATUS")
				bad := 0
				for _, st := range sts {
					status := "ok, renews from " + st.RenewAt.Format(time.RFC3339)
					switch {
					case st.Expired:
						status, bad = "EXPIRED", bad+1
					case st.Due:
						status, bad = "due for renewal", bad+1
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", st.File, st.Subject, st.NotAfter.Format(time.RFC3339), status)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				if bad > 0 {
					return cli.Exit(fmt.Sprintf("%d certificate(s) expired or due for renewal; a running edgeos renews them, or run 'edgeos certificate rotate'", bad), 1)
				}
				return nil
			},
		}, {
			Name:         "rotate",
			Usage:        "renew every leaf certificate now (the CAs stay); on an agent through its server",
			OnUsageError: usageError,
			Flags: []cli.Flag{
				dataDirFlag(&dataDir),
				stringFlag("token", "", "join token, for an agent whose client certificate has expired", &tok),
			},
			Action: func(c *cli.Context) error {
				if os.Geteuid() != 0 {
					return errNotRoot
				}
				var renewed []string
				var err error
				if server.IsServer(dataDir) {
					renewed, err = server.RotateCertificates(dataDir)
				} else {
					renewed, err = agent.RotateCertificates(c.Context, dataDir, tok)
				}
				for _, f := range renewed {
					fmt.Println("renewed", f)
				}
				return err
			},
		}},
	}
}

// certificateFiles are the certificates under a data dir: a server's, its
// node's, or a joined agent's.
func certificateFiles(dataDir string) []string {
	var out []string
	for _, dir := range server.CertificateDirs(dataDir) {
		m, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
		out = append(out, m...)
	}
	return out
}
