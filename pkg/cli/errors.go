package cli

import (
	"errors"
	"fmt"
	"strings"
)

var errNotRoot = errors.New("edgeos server must run as root")

func errUnexpectedArgs(args []string) error {
	return fmt.Errorf("unexpected arguments: %s", strings.Join(args, " "))
}
