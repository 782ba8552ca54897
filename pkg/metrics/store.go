package metrics

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Usage is a rate of CPU use over a window, and the memory working set at
// its end.
type Usage struct {
	// Time is when the later reading was taken; Window is how long before
	// it the earlier one was.
	Time   time.Time
	Window time.Duration
	// CPU is in cores, Memory in bytes.
	CPU, Memory float64
}

// ContainerUsage is one container's Usage.
type ContainerUsage struct {
	Name string
	Usage
}

// Store keeps, for each node, the last two distinct readings of the node
// and of each of its containers, which is all a usage is made of; nothing
// older, and nothing on disk. It is safe for concurrent use.
type Store struct {
	mu    sync.RWMutex
	nodes map[string]*nodeSeries
	// pods: which node's scrape a pod was last seen in; podsOf: the pods
	// of each node's last scrape
	pods   map[podID]string
	podsOf map[string]map[podID]bool
}

type podID struct{ Namespace, Name string }

type nodeSeries struct {
	node       series[Reading]
	containers map[ContainerID]*series[ContainerReading]
}

// series is a reading and the one before it.
type series[R interface{ reading() Reading }] struct {
	prev, last R
	havePrev   bool
	haveLast   bool
}

func (r Reading) reading() Reading          { return r }
func (r ContainerReading) reading() Reading { return r.Reading }

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{nodes: map[string]*nodeSeries{}, pods: map[podID]string{}, podsOf: map[string]map[podID]bool{}}
}

// Record adds a node's scrape. A container that is not in it is forgotten.
func (s *Store) Record(node string, sc Scrape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.nodes[node]
	if ns == nil {
		ns = &nodeSeries{containers: map[ContainerID]*series[ContainerReading]{}}
		s.nodes[node] = ns
	}
	if !sc.Node.Time.IsZero() {
		ns.node.add(sc.Node, sameRun[Reading])
	}
	for id := range ns.containers {
		if _, ok := sc.Containers[id]; !ok {
			delete(ns.containers, id)
		}
	}
	for id, r := range sc.Containers {
		c := ns.containers[id]
		if c == nil {
			c = &series[ContainerReading]{}
			ns.containers[id] = c
		}
		c.add(r, sameContainerRun)
	}
	s.reindex(node, ns)
}

// Forget drops a node's readings.
func (s *Store) Forget(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, node)
	s.reindex(node, nil)
}

// Known lists the nodes the Store holds readings of.
func (s *Store) Known() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.nodes))
	for n := range s.nodes {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// reindex points the pods of ns at node, and drops the pods that node no
// longer reports (unless another node reports them now); ns nil: the node
// is gone. Its cost is the node's pods, not the cluster's.
func (s *Store) reindex(node string, ns *nodeSeries) {
	now := map[podID]bool{}
	if ns != nil {
		for id := range ns.containers {
			now[podID{id.Namespace, id.Pod}] = true
		}
	}
	for p := range s.podsOf[node] {
		if !now[p] && s.pods[p] == node {
			delete(s.pods, p)
		}
	}
	for p := range now {
		s.pods[p] = node
	}
	if ns == nil {
		delete(s.podsOf, node)
	} else {
		s.podsOf[node] = now
	}
}

// Node is a node's usage; false until two readings of it were taken.
func (s *Store) Node(name string) (Usage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ns := s.nodes[name]
	if ns == nil {
		return Usage{}, false
	}
	return ns.node.usage()
}

// Pod is the usage of each container of a pod, by name; false unless
// every container the kubelet reports for it has one.
func (s *Store) Pod(namespace, name string) ([]ContainerUsage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ns := s.nodes[s.pods[podID{namespace, name}]]
	if ns == nil {
		return nil, false
	}
	var out []ContainerUsage
	for id, c := range ns.containers {
		if id.Namespace != namespace || id.Pod != name {
			continue
		}
		u, ok := c.usage()
		if !ok {
			return nil, false
		}
		out = append(out, ContainerUsage{Name: id.Container, Usage: u})
	}
	slices.SortFunc(out, func(a, b ContainerUsage) int { return cmp.Compare(a.Name, b.Name) })
	return out, len(out) > 0
}

// add takes r if it is newer than the last reading. A reading whose
// counter cannot follow the last one (the container restarted, the
// counter went back) starts the series again.
func (s *series[R]) add(r R, sameRun func(last, next R) bool) {
	switch {
	case !s.haveLast:
		s.last, s.haveLast = r, true
	case !r.reading().Time.After(s.last.reading().Time):
		// nothing new since the last scrape
	case !sameRun(s.last, r) || r.reading().CPU < s.last.reading().CPU:
		s.last, s.havePrev = r, false
	default:
		s.prev, s.last, s.havePrev = s.last, r, true
	}
}

func sameRun[R any](R, R) bool { return true }

func sameContainerRun(last, next ContainerReading) bool { return last.Started.Equal(next.Started) }

func (s *series[R]) usage() (Usage, bool) {
	if !s.havePrev {
		return Usage{}, false
	}
	prev, last := s.prev.reading(), s.last.reading()
	window := last.Time.Sub(prev.Time)
	return Usage{
		Time:   last.Time,
		Window: window,
		CPU:    (last.CPU - prev.CPU) / window.Seconds(),
		Memory: last.Memory,
	}, true
}
