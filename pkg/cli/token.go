package cli

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/edgeos/edgeos/pkg/server"
	"github.com/edgeos/edgeos/pkg/token"
	"github.com/urfave/cli/v2"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// tokenOptions are the flags of `edgeos token …`.
type tokenOptions struct {
	DataDir     string
	Kubeconfig  string
	TTL         time.Duration
	Description string
}

func (o *tokenOptions) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", Value: "/var/lib/edgeos", EnvVars: envVar("data-dir"), Usage: "the server's data dir", Destination: &o.DataDir},
		&cli.StringFlag{Name: "kubeconfig", EnvVars: []string{"KUBECONFIG"}, Usage: "kubeconfig of a cluster admin (default: the server's own)", Destination: &o.Kubeconfig},
	}
}

// client connects as admin and returns the CA bundle that join tokens hash.
func (o *tokenOptions) client() (kubernetes.Interface, []byte, error) {
	path := o.Kubeconfig
	if path == "" {
		path = server.AdminKubeconfig(o.DataDir)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	ca, err := caBundle(rc)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	return cs, ca, err
}

func caBundle(rc *rest.Config) ([]byte, error) {
	if len(rc.CAData) > 0 {
		return rc.CAData, nil
	}
	if rc.CAFile == "" {
		return nil, fmt.Errorf("kubeconfig names no CA, so tokens cannot carry its hash")
	}
	return os.ReadFile(rc.CAFile)
}

func tokenCommand() *cli.Command {
	o := &tokenOptions{}
	create := &cli.Command{
		Name:         "create",
		Usage:        "make a join token for nodes",
		OnUsageError: usageError,
		Flags: append(o.flags(),
			&cli.DurationFlag{Name: "ttl", Value: 24 * time.Hour, Usage: "how long the token is valid (0: forever)", Destination: &o.TTL},
			&cli.StringFlag{Name: "description", Usage: "what the token is for", Destination: &o.Description}),
		Action: func(c *cli.Context) error {
			cs, ca, err := o.client()
			if err != nil {
				return err
			}
			t, err := token.Create(c.Context, cs.CoreV1(), token.CAHash(ca), o.TTL, o.Description)
			if err != nil {
				return err
			}
			fmt.Println(t.String())
			return nil
		},
	}
	list := &cli.Command{
		Name:         "list",
		Usage:        "list join tokens made by 'token create'",
		OnUsageError: usageError,
		Flags:        o.flags(),
		Action: func(c *cli.Context) error {
			cs, _, err := o.client()
			if err != nil {
				return err
			}
			infos, err := token.List(c.Context, cs.CoreV1())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tEXPIRES\tDESCRIPTION")
			for _, i := range infos {
				fmt.Fprintf(w, "%s\t%s\t%s\n", i.ID, i.Expires, i.Description)
			}
			return w.Flush()
		},
	}
	return &cli.Command{Name: "token", Usage: "manage join tokens", Subcommands: []*cli.Command{create, list}}
}
