// Package alerts checks docs/alerts.yaml with Prometheus's own rule
// parser, and that the series its rules read are the ones listed in
// series.txt, which the metrics integration test finds on a server's
// endpoint, and series-log-forward.txt, which the log forwarding test
// finds on a node that ships its logs. It is a module of its own:
// Prometheus's server module stays out of edgeos's build.
package alerts

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestAlertRules(t *testing.T) {
	promql := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile("../../docs/alerts.yaml", false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("docs/alerts.yaml: %v", errs)
	}
	used := map[string]bool{}
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("rule %q is not an alert", r.Record)
				continue
			}
			alerts++
			expr, err := promql.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					used[vs.Name] = true
				}
				return nil
			})
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts")
	}
	listed := series(t)
	for name := range used {
		if !slices.Contains(listed, name) {
			t.Errorf("the rules read %s, which no series*.txt lists (the series the integration tests find on edgeos's endpoints)", name)
		}
	}
	for _, name := range listed {
		if !used[name] {
			t.Errorf("series*.txt lists %s, which no rule reads", name)
		}
	}
}

// series reads series*.txt: one series name a line.
func series(t *testing.T) []string {
	files, err := filepath.Glob("series*.txt")
	if err != nil || len(files) < 2 {
		t.Fatalf("series files %v: %v", files, err)
	}
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.Fields(string(b))...)
	}
	return names
}
