package datastore

import (
	"os"

	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// publishFileSizes publishes the sizes of the SQLite file and its WAL,
// read when scraped: a datastore or WAL that keeps growing is what an
// operator must hear about before the flash fills.
func publishFileSizes(reg prometheus.Registerer, db string) {
	size := func(path string) func() float64 {
		return func() float64 {
			fi, err := os.Stat(path)
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		}
	}
	telemetry.GaugeFunc(reg, prometheus.GaugeOpts{Subsystem: "datastore", Name: "db_size_bytes",
		Help: "Size of the embedded datastore's SQLite file."}, size(db))
	telemetry.GaugeFunc(reg, prometheus.GaugeOpts{Subsystem: "datastore", Name: "wal_size_bytes",
		Help: "Size of the embedded datastore's write-ahead log."}, size(db+"-wal"))
}
