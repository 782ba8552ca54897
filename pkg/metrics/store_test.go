package metrics

import (
	"testing"
	"time"
)

var t0 = time.Unix(1764500000, 0)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func scrape(node Reading, containers map[ContainerID]ContainerReading) Scrape {
	return Scrape{Node: node, Containers: containers}
}

var app = ContainerID{"demo", "web-1", "app"}

func TestNodeRate(t *testing.T) {
	s := NewStore()
	s.Record("n1", scrape(Reading{Time: at(0), CPU: 100, Memory: 1e9}, nil))
	if _, ok := s.Node("n1"); ok {
		t.Fatal("a usage from one reading")
	}
	s.Record("n1", scrape(Reading{Time: at(15), CPU: 103, Memory: 2e9}, nil))
	u, ok := s.Node("n1")
	if !ok || u.CPU != 0.2 || u.Memory != 2e9 || u.Window != 15*time.Second || !u.Time.Equal(at(15)) {
		t.Fatalf("%+v %v", u, ok)
	}
	// a scrape with nothing new keeps the pair it has
	s.Record("n1", scrape(Reading{Time: at(15), CPU: 103, Memory: 2e9}, nil))
	if u2, _ := s.Node("n1"); u2 != u {
		t.Errorf("%+v after a repeated reading, want %+v", u2, u)
	}
	s.Forget("n1")
	if _, ok := s.Node("n1"); ok || len(s.Known()) != 0 {
		t.Error("forgotten node still known")
	}
}

func TestContainerRestartStartsAgain(t *testing.T) {
	s := NewStore()
	started := at(-100)
	for i, cpu := range []float64{10, 11} {
		s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading{Time: at(15 * i), CPU: cpu, Memory: 1}, started}}))
	}
	if c, ok := s.Pod("demo", "web-1"); !ok || len(c) != 1 || c[0].Name != "app" || c[0].CPU != 1.0/15 {
		t.Fatalf("%+v %v", c, ok)
	}
	// restarted: the counter began again, no rate across it
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading{Time: at(30), CPU: 12, Memory: 1}, at(20)}}))
	if c, ok := s.Pod("demo", "web-1"); ok {
		t.Fatalf("usage across a restart: %+v", c)
	}
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading{Time: at(45), CPU: 13.5, Memory: 1}, at(20)}}))
	if c, ok := s.Pod("demo", "web-1"); !ok || c[0].CPU != 0.1 {
		t.Fatalf("%+v %v", c, ok)
	}
	// a counter that goes back starts again too
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading{Time: at(60), CPU: 1, Memory: 1}, at(20)}}))
	if _, ok := s.Pod("demo", "web-1"); ok {
		t.Fatal("usage across a counter reset")
	}
}

func TestPodNeedsEveryContainer(t *testing.T) {
	s := NewStore()
	side := ContainerID{"demo", "web-1", "side"}
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading: Reading{Time: at(0), CPU: 1}}}))
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{
		app:  {Reading: Reading{Time: at(15), CPU: 2}},
		side: {Reading: Reading{Time: at(15), CPU: 2}},
	}))
	if c, ok := s.Pod("demo", "web-1"); ok {
		t.Fatalf("pod with a container that has one reading: %+v", c)
	}
	// gone from the next scrape: forgotten, the pod with it
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{side: {Reading: Reading{Time: at(30), CPU: 3}}}))
	c, ok := s.Pod("demo", "web-1")
	if !ok || len(c) != 1 || c[0].Name != "side" {
		t.Fatalf("%+v %v", c, ok)
	}
}

func TestPodFollowsItsNode(t *testing.T) {
	s := NewStore()
	for i := range 2 {
		s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading: Reading{Time: at(15 * i), CPU: float64(i)}}}))
	}
	if _, ok := s.Pod("demo", "web-1"); !ok {
		t.Fatal("no usage")
	}
	// the pod is now reported by another node (recreated there)
	s.Record("n1", scrape(Reading{}, nil))
	s.Record("n2", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading: Reading{Time: at(40), CPU: 0}}}))
	if c, ok := s.Pod("demo", "web-1"); ok {
		t.Fatalf("usage of the old pod: %+v", c)
	}
	s.Forget("n2")
	if _, ok := s.Pod("demo", "web-1"); ok || len(s.pods) != 0 {
		t.Fatalf("pods left: %v", s.pods)
	}
}

func TestPodSeenOnAnotherNodeFirst(t *testing.T) {
	s := NewStore()
	s.Record("n1", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading: Reading{Time: at(0), CPU: 0}}}))
	// recreated on n2, which is scraped before n1 drops it
	for i := range 2 {
		s.Record("n2", scrape(Reading{}, map[ContainerID]ContainerReading{app: {Reading: Reading{Time: at(15 * (i + 1)), CPU: float64(i)}}}))
	}
	s.Record("n1", scrape(Reading{}, nil))
	if _, ok := s.Pod("demo", "web-1"); !ok {
		t.Fatal("n1's scrape without the pod dropped n2's")
	}
	s.Forget("n1")
	if s.pods[podID{"demo", "web-1"}] != "n2" {
		t.Fatalf("pods %v", s.pods)
	}
}
