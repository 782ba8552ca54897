package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Node is one edgeos process in its own network namespace.
type Node struct {
	c          *Cluster
	Name       string
	NetNS      string
	IP         string
	Dir        string // scratch space of the test, removed after it
	DataDir    string
	Kubeconfig string
	Bin        string

	holder int // pid holding the node's mount namespace

	cmd    *exec.Cmd
	exited chan struct{}
	logs   []string
}

// Command prepares `edgeos args…` inside the node's namespace.
func (n *Node) Command(args ...string) *exec.Cmd {
	argv := append(append(n.enter(), n.Bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.Kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Result is how a command that ran to completion ended.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Run runs `edgeos args…` in the namespace to completion.
func (n *Node) Run(args ...string) Result {
	return n.run(n.Command(args...))
}

// Shell runs a shell script on the node to completion, in a mount namespace
// of its own below the node's, so that mounts it makes end with it.
// $EDGEOS is the binary.
func (n *Node) Shell(script string) Result {
	n.c.t.Helper()
	return n.shell(true, script)
}

// Setup runs a shell script in the machine's own mount namespace, so that
// what it mounts stays for the rest of the node's life (and is seen by
// every later Shell and process of the node, never by the host).
func (n *Node) Setup(script string) Result {
	n.c.t.Helper()
	return n.shell(false, script)
}

func (n *Node) shell(private bool, script string) Result {
	argv := append(n.enter(), "sh", "-ec", script)
	if private {
		argv = append(n.enter(), "unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", script)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.Kubeconfig, "EDGEOS="+n.Bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return n.run(cmd)
}

func (n *Node) run(cmd *exec.Cmd) Result {
	n.c.t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		n.c.t.Fatalf("running %v: %v", cmd.Args, err)
	}
	return r
}

// Start starts `edgeos args…` in the background, logging to a file.
func (n *Node) Start(args ...string) {
	n.c.t.Helper()
	if n.cmd != nil {
		n.c.t.Fatalf("node %s is already running", n.Name)
	}
	logPath := filepath.Join(n.Dir, fmt.Sprintf("edgeos-%d.log", len(n.logs)))
	f, err := os.Create(logPath)
	if err != nil {
		n.c.t.Fatal(err)
	}
	n.logs = append(n.logs, logPath)
	cmd := n.Command(args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		n.c.t.Fatal(err)
	}
	f.Close()
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
}

// Stop sends SIGTERM and waits for the process; it returns the exit code.
func (n *Node) Stop() int {
	n.c.t.Helper()
	if n.cmd == nil {
		n.c.t.Fatalf("node %s is not running", n.Name)
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	return n.wait(2*time.Minute, "stop within 2 minutes of SIGTERM")
}

// Wait waits for the process to end by itself and returns its exit code.
func (n *Node) Wait() int {
	n.c.t.Helper()
	if n.cmd == nil {
		n.c.t.Fatalf("node %s is not running", n.Name)
	}
	return n.wait(5*time.Minute, "end by itself within 5 minutes")
}

// wait waits up to bound for the process to end, kills it after that,
// and returns its exit code.
func (n *Node) wait(bound time.Duration, what string) int {
	n.c.t.Helper()
	select {
	case <-n.exited:
	case <-time.After(bound):
		n.kill()
		n.c.t.Fatalf("node %s did not %s", n.Name, what)
	}
	code := n.cmd.ProcessState.ExitCode()
	n.cmd = nil
	return code
}

// Kill sends SIGKILL to edgeos alone, as a crash or the OOM killer would;
// what it started in process groups of their own is not signalled.
func (n *Node) Kill() {
	n.c.t.Helper()
	if n.cmd == nil {
		n.c.t.Fatalf("node %s is not running", n.Name)
	}
	n.kill()
}

func (n *Node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.exited
	n.cmd = nil
}

// Running reports whether the process started last is still running.
func (n *Node) Running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// PID is the running edgeos process's.
func (n *Node) PID() int {
	n.c.t.Helper()
	if n.cmd == nil {
		n.c.t.Fatalf("node %s is not running", n.Name)
	}
	return n.cmd.Process.Pid
}

// Log returns the current process's output so far.
func (n *Node) Log() string {
	if len(n.logs) == 0 {
		return ""
	}
	b, _ := os.ReadFile(n.logs[len(n.logs)-1])
	return string(b)
}

func (n *Node) dumpLog() {
	for _, p := range n.logs {
		b, _ := os.ReadFile(p)
		lines := strings.Split(string(b), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		n.c.t.Logf("--- last lines of %s (node %s)\n%s", p, n.Name, strings.Join(lines, "\n"))
	}
}

// RESTConfig is the admin connection to this node's API, by its bridge address.
func (n *Node) RESTConfig() *rest.Config {
	n.c.t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig)
	if err != nil {
		n.c.t.Fatal(err)
	}
	rc.Host = n.apiURL()
	return rc
}

// apiURL is the node's API server at its bridge address.
func (n *Node) apiURL() string { return "https://" + n.IP + ":6443" }

// BridgeKubeconfig writes the admin kubeconfig with the node's bridge
// address as the server's, for clients on the host or on other nodes, and
// returns its path.
func (n *Node) BridgeKubeconfig() string {
	n.c.t.Helper()
	cfg, err := clientcmd.LoadFromFile(n.Kubeconfig)
	if err != nil {
		n.c.t.Fatal(err)
	}
	for _, cluster := range cfg.Clusters {
		cluster.Server = n.apiURL()
	}
	path := filepath.Join(n.Dir, "kubeconfig-bridge.yaml")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		n.c.t.Fatal(err)
	}
	return path
}

// WaitReady waits until the API answers /readyz, failing the test if the
// process exits first. The bound is generous: it catches hangs, not slowness.
func (n *Node) WaitReady() kubernetes.Interface {
	n.c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		if _, err := os.Stat(n.Kubeconfig); err == nil {
			cs, err := kubernetes.NewForConfig(n.RESTConfig())
			if err != nil {
				n.c.t.Fatal(err)
			}
			body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err == nil && string(body) == "ok" {
				return cs
			}
		}
		select {
		case <-n.exited:
			n.c.t.Fatalf("node %s exited before it was ready", n.Name)
		case <-ctx.Done():
			n.c.t.Fatalf("node %s not ready after 5 minutes", n.Name)
		case <-time.After(time.Second):
		}
	}
}

// Background starts another program (a database, a fake upstream) inside
// the node's namespace for the rest of the test, and kills it at the end.
func (n *Node) Background(argv ...string) {
	n.c.t.Helper()
	full := append(n.enter(), argv...)
	cmd := exec.Command(full[0], full[1:]...)
	logPath := filepath.Join(n.Dir, filepath.Base(argv[0])+".log")
	f, err := os.Create(logPath)
	if err != nil {
		n.c.t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.c.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	n.c.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
}

// WaitLog waits until the running process has logged line, failing the
// test if it exits first.
func (n *Node) WaitLog(line string) {
	n.c.t.Helper()
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(n.Log(), line) {
		select {
		case <-n.exited:
			n.c.t.Fatalf("node %s exited before logging %q", n.Name, line)
		case <-deadline:
			n.c.t.Fatalf("node %s did not log %q within 5 minutes", n.Name, line)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
