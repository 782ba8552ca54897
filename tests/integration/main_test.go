// Package integration drives the built edgeos binary inside network
// namespaces made by tests/harness, with real SQLite and real clients.
package integration

import (
	"os"
	"testing"

	"github.com/edgeos/edgeos/tests/harness"
)

func TestMain(m *testing.M) {
	harness.RemoveStale()
	os.Exit(m.Run())
}
