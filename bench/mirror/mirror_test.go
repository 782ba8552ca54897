// Package mirror benchmarks the embedded registry mirror: on a harness
// cluster (a server and two agents, --embedded-registry), the time from a
// pod's creation to its running, for an image of about 50 MB, pulled
// from the registry the harness runs (TLS, basic auth, through
// registries.yaml), from it behind a thin link, and from a peer (the
// image imported on the server's node only). Each round uses new images, so that no layer is
// already on the pulling node. It is run by bench/mirror.sh, once
// (-benchtime 1x), and writes a markdown table to $BENCH_TABLE when set.
package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/bench/benchkit"
	"github.com/edgeos/edgeos/pkg/ociimage"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}

// payload is the size of each image's incompressible file.
const payload = 50 << 20

func BenchmarkImagePull(b *testing.B) {
	rounds := benchkit.Rounds(b, 3)
	echo, err := os.ReadFile(images.Program(b, "echo"))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		c := harness.New(b)
		reg := c.StartRegistry(5443, "fleet", "bench-password")
		regFile := filepath.Join(b.TempDir(), "registries.yaml")
		benchkit.Write(b, regFile, fmt.Sprintf("mirrors:\n  registry.edgeos.test:\n    endpoint: [\"https://%[1]s\"]\nconfigs:\n  %[1]q:\n    auth: {username: fleet, password: bench-password}\n    tls: {ca_file: %[2]q}\n", reg.Addr, reg.CAFile))
		srv, a1, a2 := c.AddNode("server"), c.AddNode("agent1"), c.AddNode("agent2")
		srv.Start(srv.ServerArgs("--private-registry", regFile, "--embedded-registry")...)
		cs := srv.WaitReady()
		for _, n := range []*harness.Node{a1, a2} {
			n.Start(n.AgentArgs(srv, "--private-registry", regFile)...)
		}
		for _, n := range []*harness.Node{srv, a1, a2} {
			n.WaitNodeReady(cs)
		}
		for _, n := range []*harness.Node{a1, a2} {
			n.WaitLog("Registry mirror: 2 peers")
		}

		link := linkMbit(b)
		var fromRegistry, fromThin, fromPeer []time.Duration
		var size int
		// fromRegistry pulls a new image, that no node holds, from the
		// registry to agent1
		pullFromRegistry := func(tag string) time.Duration {
			name := "registry.edgeos.test/bench/big:" + tag
			archive := bigImage(b, echo, name)
			size = len(archive)
			if err := reg.Push(archive, tag, "bench/big", tag); err != nil {
				b.Fatal(err)
			}
			return startPod(b, cs, "registry-"+tag, a1.Name, name)
		}
		for i := 1; i <= rounds; i++ {
			fromRegistry = append(fromRegistry, pullFromRegistry(fmt.Sprintf("r%d", i)))

			// from a peer, to agent2: the server's node holds the image
			name := fmt.Sprintf("registry.edgeos.test/bench/peer:r%d", i)
			srv.AddImage(fmt.Sprintf("peer-%d.tar", i), bigImage(b, echo, name))
			srv.WaitLog("Imported [" + name + "]")
			fromPeer = append(fromPeer, startPod(b, cs, fmt.Sprintf("peer-%d", i), a2.Name, name))

			c.LimitHostLink(link)
			fromThin = append(fromThin, pullFromRegistry(fmt.Sprintf("thin%d", i)))
			c.LimitHostLink(0)
		}
		if !strings.Contains(srv.Log(), "to node "+a2.Name) {
			b.Fatal("the server's mirror served nothing to agent2")
		}
		if path := os.Getenv("BENCH_TABLE"); path != "" {
			var sb strings.Builder
			sb.WriteString("| image pulled from | median (s) | each round (s) |\n|---|---|---|\n")
			fmt.Fprintf(&sb, "| the registry in the harness (TLS, basic auth; peers asked first, none has it) | %.2f | %s |\n", benchkit.Median(fromRegistry).Seconds(), benchkit.Seconds(fromRegistry))
			fmt.Fprintf(&sb, "| the same registry behind a %d Mbit/s link | %.2f | %s |\n", link, benchkit.Median(fromThin).Seconds(), benchkit.Seconds(fromThin))
			fmt.Fprintf(&sb, "| a peer (the server's node; embedded registry mirror) | %.2f | %s |\n", benchkit.Median(fromPeer).Seconds(), benchkit.Seconds(fromPeer))
			fmt.Fprintf(&sb, "\nTime from the pod's creation to Running, on a harness agent, for an image of %.1f MB (one gzip layer: the echo test program and %d MB of random bytes), new in each of %d rounds. The registry is distribution's, in the bench process on the host's bridge address; the peer is another harness node on the same bridge. The thin link is a token bucket on what the host sends to the nodes (tc tbf, BENCH_LINK_MBIT); node-to-node traffic is not shaped.\n",
				float64(size)/(1<<20), payload>>20, rounds)
			benchkit.Write(b, path, sb.String())
		}
		for _, n := range []*harness.Node{a2, a1, srv} {
			n.Stop()
		}
	}
}

// linkMbit is $BENCH_LINK_MBIT, the thin link's rate; 20 when unset.
func linkMbit(b *testing.B) int {
	s := os.Getenv("BENCH_LINK_MBIT")
	if s == "" {
		return 20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("BENCH_LINK_MBIT %q", s)
	}
	return n
}

// bigImage is the echo test program and payload random bytes, as an image
// archive named name.
func bigImage(b *testing.B, echo []byte, name string) []byte {
	b.Helper()
	data := make([]byte, payload)
	// a seed of its own per name: no layer is shared with another image
	r := rand.NewChaCha8(sha256.Sum256([]byte(name)))
	_, _ = r.Read(data)
	var buf bytes.Buffer
	err := ociimage.Write(&buf, ociimage.Image{
		Name: name, Arch: runtime.GOARCH,
		Files:      []ociimage.File{{Path: "/echo", Mode: 0o755, Data: echo}, {Path: "/payload", Mode: 0o644, Data: data}},
		Entrypoint: []string{"/echo"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// startPod creates a pod of image on node and returns the time until it
// runs.
func startPod(b *testing.B, cs kubernetes.Interface, name, node, image string) time.Duration {
	b.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
	start := time.Now()
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return time.Since(start)
		}
		if ctx.Err() != nil {
			b.Fatalf("pod %s never ran: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
