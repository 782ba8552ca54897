package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgeos/edgeos/pkg/registries"
)

// Agent is everything `edgeos agent` is told.
type Agent struct {
	// Server is the URL of the server to join, https://HOST:6443.
	Server    string
	Token     string
	TokenFile string
	DataDir   string
	NodeName  string
	NodeIPs   []string
	Debug     bool
	// Verbosity (-v) and LogFormat are the server's.
	Verbosity int
	LogFormat string
	// MetricsBindAddress is IP:PORT of the node-local Prometheus endpoint.
	MetricsBindAddress string
	// LBServerPort is the loopback port of the node's API load balancer.
	LBServerPort int
	Node         Node
}

// Validate checks the config without changing it or reading anything
// outside it; each error names its flag.
func (a *Agent) Validate() error {
	var errs []error
	u, err := url.Parse(a.Server)
	if a.Server == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--server %q must be the server's URL, https://HOST:6443", a.Server))
	}
	if (a.Token == "") == (a.TokenFile == "") {
		errs = append(errs, errors.New("give exactly one of --token and --token-file"))
	}
	if a.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if !validPort(strconv.Itoa(a.LBServerPort)) {
		errs = append(errs, fmt.Errorf("--lb-server-port %d is not a port", a.LBServerPort))
	}
	if host, port, err := net.SplitHostPort(a.MetricsBindAddress); err != nil || net.ParseIP(host) == nil || !validPort(port) {
		errs = append(errs, fmt.Errorf("--metrics-bind-address %q is not IP:PORT", a.MetricsBindAddress))
	}
	errs = append(errs, checkLogging(a.LogFormat, a.Verbosity))
	errs = append(errs, checkNodeIPs(a.NodeIPs), a.Node.Validate())
	return errors.Join(errs...)
}

// hostPort is a validated https URL's host:port (443 when it names none).
func hostPort(server string) string {
	u, _ := url.Parse(server)
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return u.Host
}

// validPort: a port number to listen on.
func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

// CompletedAgent is an agent config that passed Validate, with the node's
// identity and the token filled in. Only Complete makes one; nothing
// changes it after.
type CompletedAgent struct{ *completedAgent }

type completedAgent struct {
	// Agent holds the flags, with Token (read from --token-file where
	// given), NodeName and NodeIPs filled in.
	Agent
	// Registries is what registries.yaml tells containerd.
	Registries *registries.File
	// LogForward is where the node ships its logs.
	LogForward LogForward
	// ServerAddress is --server's host:port.
	ServerAddress string
}

// Complete validates a and derives the completed config. a is left as it
// was.
func (a *Agent) Complete() (CompletedAgent, error) {
	if err := a.Validate(); err != nil {
		return CompletedAgent{}, err
	}
	out := &completedAgent{Agent: *a}
	out.Node = a.Node.clone()
	name, ips, err := identity(a.NodeName, a.NodeIPs)
	if err != nil {
		return CompletedAgent{}, err
	}
	out.NodeName, out.NodeIPs = name, ips
	out.ServerAddress = hostPort(a.Server)
	if out.Registries, err = loadRegistries(a.Node); err != nil {
		return CompletedAgent{}, err
	}
	if out.LogForward, err = a.Node.logForward(); err != nil {
		return CompletedAgent{}, err
	}
	out.Token = strings.TrimSpace(a.Token)
	if a.TokenFile != "" {
		if out.Token, err = readSecret("--token-file", a.TokenFile); err != nil {
			return CompletedAgent{}, err
		}
	}
	return CompletedAgent{out}, nil
}
