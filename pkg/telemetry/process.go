package telemetry

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// PublishProcess publishes what the whole process costs the box's
// storage: the free and total space of the filesystem holding the data
// dir, and the bytes the process caused to be written (the datastore's
// writes foremost), each read when scraped.
func PublishProcess(reg prometheus.Registerer, dataDir string) {
	statfs := func(free bool) func() float64 {
		return func() float64 {
			var st syscall.Statfs_t
			if syscall.Statfs(dataDir, &st) != nil {
				return 0
			}
			if free {
				return float64(st.Bavail) * float64(st.Bsize)
			}
			return float64(st.Blocks) * float64(st.Bsize)
		}
	}
	GaugeFunc(reg, prometheus.GaugeOpts{Name: "data_dir_free_bytes",
		Help: "Space left to edgeos on the filesystem of its data dir."}, statfs(true))
	GaugeFunc(reg, prometheus.GaugeOpts{Name: "data_dir_size_bytes",
		Help: "Size of the filesystem of edgeos's data dir."}, statfs(false))
	register(reg, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "storage_written_bytes_total",
		Help: "Bytes the edgeos process caused to be written to storage (write_bytes of /proc/self/io)."}, selfWriteBytes))
}

// selfWriteBytes is write_bytes of /proc/self/io; 0 where it cannot be
// read (a kernel without task I/O accounting).
func selfWriteBytes() float64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}
