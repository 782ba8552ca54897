package apilb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/edgeos/edgeos/pkg/atomicfile"
)

// Kept is what the node keeps of the servers between starts.
type Kept struct {
	// Server is --server's host:port when they were learned.
	Server string `json:"server"`
	// Servers are the cluster's servers as the API named them.
	Servers []string `json:"servers"`
}

// Load reads what a node kept at path; a missing file is nothing kept. A
// file that does not parse, or names something that is not host:port, is
// an error.
func Load(path string) (Kept, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Kept{}, nil
	}
	if err != nil {
		return Kept{}, err
	}
	var k Kept
	if err := json.Unmarshal(b, &k); err != nil {
		return Kept{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, srv := range append([]string{k.Server}, k.Servers...) {
		if _, _, err := net.SplitHostPort(srv); err != nil && srv != "" {
			return Kept{}, fmt.Errorf("%s: server %q: %w", path, srv, err)
		}
	}
	return k, nil
}

func save(path string, k Kept) error {
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}
