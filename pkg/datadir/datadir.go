// Package datadir prepares edgeos's data dir, on server and agent alike:
// root-only, and writable before anything is written into it.
package datadir

import (
	"fmt"
	"os"
)

// Prepare makes dir (mode 0700, tightened if it exists) and checks that it
// is writable.
func Prepare(dir string) error {
	notWritable := func(err error) error { return fmt.Errorf("data dir %s is not writable: %w", dir, err) }
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return notWritable(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return notWritable(err)
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return notWritable(err)
		}
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return notWritable(err)
	}
	f.Close()
	return os.Remove(f.Name())
}
