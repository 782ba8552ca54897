// Package secrets measures how fast `edgeos secrets-encrypt` writes every
// Secret again: enabling encryption on a cluster that has BENCH_SECRETS
// (2000) Secrets of 1 KiB, then rotating its key.
package secrets

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

var rate = regexp.MustCompile(`wrote (\d+) Secrets again in (\S+) \((\d+)/s\)`)

func BenchmarkReencrypt(b *testing.B) {
	n := 2000
	if v := os.Getenv("BENCH_SECRETS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	c := harness.New(b)
	srv := c.AddNode("server")
	srv.Start(srv.ServerArgs("--disable-agent", "--secrets-encryption=false")...)
	srv.WaitReady()
	rc := srv.RESTConfig()
	rc.QPS, rc.Burst = 500, 1000
	cs := kubernetes.NewForConfigOrDie(rc)
	value := strings.Repeat("x", 1024)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if _, err := cs.CoreV1().Secrets("default").Create(context.Background(), &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i)}, StringData: map[string]string{"v": value},
				}, metav1.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	rows := []string{"| command | Secrets written again | time | Secrets/s |", "|---|---|---|---|"}
	for _, cmd := range []string{"enable", "rotate-keys"} {
		r := srv.Run("secrets-encrypt", cmd, "--data-dir", srv.DataDir)
		m := rate.FindStringSubmatch(r.Stdout)
		if r.ExitCode != 0 || m == nil {
			b.Fatalf("secrets-encrypt %s: %d %s %s", cmd, r.ExitCode, r.Stdout, r.Stderr)
		}
		rows = append(rows, fmt.Sprintf("| `edgeos secrets-encrypt %s` | %s | %s | %s |", cmd, m[1], m[2], m[3]))
	}
	table := strings.Join(rows, "\n") + "\n"
	fmt.Print(table)
	if f := os.Getenv("BENCH_TABLE"); f != "" {
		if err := os.WriteFile(f, []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srv.Stop()
}
