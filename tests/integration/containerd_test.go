package integration

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestContainerOutlivesEdgeos runs a container through the containerd inside
// edgeos (real runc, real overlayfs), kills edgeos with SIGKILL, and checks
// that the container keeps serving and that the containerd of the next
// edgeos finds the same task still running.
func TestContainerOutlivesEdgeos(t *testing.T) {
	c := harness.New(t)
	n := c.AddNode("node")
	args := append([]string{"server", "--data-dir", n.DataDir, "--write-kubeconfig", n.Kubeconfig}, n.NodeFlags()...)
	n.Start(args...)
	n.WaitReady()

	sock := n.Path("/run/edgeos/containerd/containerd.sock")
	ctx := namespaces.WithNamespace(context.Background(), "edgeos-test")
	client, err := containerd.New(sock)
	if err != nil {
		t.Fatalf("edgeos's containerd at %s: %v", sock, err)
	}
	defer client.Close()

	imgs, err := client.Import(ctx, bytes.NewReader(images.Build(t, "echo")))
	if err != nil || len(imgs) != 1 || imgs[0].Name != images.Name("echo") {
		t.Fatalf("importing the echo image: %v %v", imgs, err)
	}
	image := containerd.NewImage(client, imgs[0])
	if err := image.Unpack(ctx, "overlayfs"); err != nil {
		t.Fatal(err)
	}
	ctr, err := client.NewContainer(ctx, "echo", containerd.WithNewSnapshot("echo", image), containerd.WithNewSpec(
		oci.WithImageConfig(image),
		oci.WithHostNamespace(specs.NetworkNamespace),
		oci.WithEnv([]string{"MESSAGE=still-here"}),
		oci.WithCgroup(c.CgroupParent()+"/echo"),
	))
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatalf("creating the task (runc through edgeos's shim): %v", err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid := task.Pid()
	url := "http://" + n.IP + ":8080/hello"
	eventually(t, "the container serves HTTP", func(ctx context.Context) (bool, error) { return answers(url) })

	n.Kill()
	eventually(t, "containerd goes down with edgeos", func(context.Context) (bool, error) {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			conn.Close()
		}
		return err != nil, nil
	})
	if ok, err := answers(url); !ok {
		t.Fatalf("the container stopped serving when edgeos died: %v", err)
	}

	n.Start(args...)
	n.WaitReady()
	client2, err := containerd.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()
	ctr2, err := client2.LoadContainer(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	task2, err := ctr2.Task(ctx, nil)
	if err != nil {
		t.Fatalf("the restarted containerd lost the task: %v", err)
	}
	st, err := task2.Status(ctx)
	if err != nil || st.Status != containerd.Running || task2.Pid() != pid {
		t.Fatalf("after restart: status %v (%v), pid %d, want running pid %d", st.Status, err, task2.Pid(), pid)
	}
	if ok, err := answers(url); !ok {
		t.Fatalf("no answer after edgeos came back: %v", err)
	}

	// stopping the task through the reattached containerd works too
	exit, err := task2.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task2.Kill(ctx, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exit:
	case <-time.After(time.Minute):
		t.Fatal("the task did not stop on SIGTERM")
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func answers(url string) (bool, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), "/hello still-here"), nil
}
