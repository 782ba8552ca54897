package footprint

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/harness"
	"github.com/edgeos/edgeos/tests/images"
)

// runEdgeos measures an edgeos server (which is also a node) and then an
// agent joined to it.
func runEdgeos(b *testing.B, p params) (server, agent run) {
	c := harness.New(b)
	srv, ag := c.AddNode("server"), c.AddNode("agent")
	echo := images.Build(b, "echo")
	for _, n := range []*harness.Node{srv, ag} {
		n.AddImage("echo.tar", echo)
	}
	count := func(n *harness.Node) counts {
		return inDirOrIs(filepath.Join(n.DataDir, "agent", "bin"), n.Bin)
	}
	db := filepath.Join(srv.DataDir, "server", "db", "state.db")

	server.name = "edgeos server + node"
	start := time.Now()
	srv.Start(srv.ServerArgs(p.edgeosArgs...)...)
	cs := srv.WaitReady()
	waitNodeReady(b, cs, srv.Name)
	server.ready = time.Since(start)
	waitServiceAccount(b, cs)
	runIdlePods(b, cs, srv.Name)
	server.idle = measureIdle(b, srv, count(srv), p.settle, p.idle, db+"-wal", db)
	server.profile = profileCPU(b, cs, srv.Name, p.profile)
	// after the idle window: the cleanup after 30 pods (containerd removing
	// their snapshots, for minutes) is no idle work
	server.podStart = podStartLatencies(b, cs, srv.Name, p.startPods)
	server.creates, server.lists = apiLatencies(b, srv, p.configMaps, p.lists)

	if p.noAgent {
		srv.Stop()
		return server, run{}
	}
	agent.name = "edgeos agent"
	// An agent has its machine to itself: run it from a file of its own,
	// or the pages of the program it shares with the server count half.
	ag.Bin = filepath.Join(b.TempDir(), "edgeos-agent")
	if out, err := exec.Command("cp", srv.Bin, ag.Bin).CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	start = time.Now()
	ag.Start(ag.AgentArgs(srv, p.agentArgs...)...)
	waitNodeReady(b, cs, ag.Name)
	agent.ready = time.Since(start)
	runIdlePods(b, cs, ag.Name)
	agent.idle = measureIdle(b, ag, count(ag), p.settle, p.idle, "", "")
	agent.profile = profileCPU(b, cs, ag.Name, p.profile)

	ag.Stop()
	srv.Stop()
	return server, agent
}
