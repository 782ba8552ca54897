package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	"github.com/klauspost/compress/zstd"
)

// TestAirGapImages: the pause image comes from the binary; archives in the
// air-gap directory are imported at start (gzip) and when they appear
// (zstd); `edgeos images import` imports by hand; a corrupt archive is
// reported and skipped. Every image is pinned, and nothing else is there.
func TestAirGapImages(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("node")
	dir := filepath.Join(n.DataDir, "agent", "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(images.BuildAs(t, "echo", "edgeos.test/echo:at-start"))
	zw.Close()
	write(t, filepath.Join(dir, "echo.tar.gz"), gz.Bytes())
	write(t, filepath.Join(dir, "broken.tar"), []byte("this is not an image archive"))

	n.Start(append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)...)
	n.WaitReady()
	client, err := containerd.New(n.Path("/run/edgeos/containerd/containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), "k8s.io")

	var zst bytes.Buffer
	enc, _ := zstd.NewWriter(&zst)
	enc.Write(images.BuildAs(t, "echo", "edgeos.test/echo:dropped"))
	enc.Close()
	write(t, filepath.Join(dir, "dropped.tar.zst"), zst.Bytes())

	cliArchive := filepath.Join(n.Dir, "by-hand.tar")
	write(t, cliArchive, images.BuildAs(t, "echo", "edgeos.test/echo:by-hand"))
	if r := n.Run("images", "import", cliArchive); r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "edgeos.test/echo:by-hand" {
		t.Fatalf("edgeos images import: %+v", r)
	}
	if r := n.Run("images", "import", filepath.Join(dir, "broken.tar")); r.ExitCode == 0 || !strings.Contains(r.Stderr, "broken.tar") {
		t.Errorf("importing a corrupt archive by hand: %+v", r)
	}

	want := []string{"edgeos.local/pause:1", "edgeos.test/echo:at-start", "edgeos.test/echo:by-hand", "edgeos.test/echo:dropped"}
	var names []string
	eventually(t, "the dropped zstd archive is imported", func(context.Context) (bool, error) {
		imgs, err := client.ListImages(ctx)
		if err != nil {
			return false, err
		}
		names = names[:0]
		for _, img := range imgs {
			names = append(names, img.Name())
			if img.Labels()["io.cri-containerd.pinned"] != "pinned" {
				t.Errorf("image %s is not pinned", img.Name())
			}
		}
		slices.Sort(names)
		return slices.Equal(names, want), nil
	})
	if !strings.Contains(n.Log(), "broken.tar not imported") {
		t.Error("the corrupt archive in the air-gap directory was not reported")
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
