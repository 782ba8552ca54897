package datastore

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// kine retries an unreachable database for minutes without telling its
// caller; edgeos checks reachability itself first so that a wrong endpoint
// ends the start with one clear error.

// probeAddrs returns the host:port pairs an endpoint connects to.
func probeAddrs(ep string) ([]string, error) {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		return nil, fmt.Errorf("datastore endpoint %q has no scheme (want postgres://, mysql://, http(s):// for etcd, or sqlite://)", redact(ep))
	}
	switch scheme {
	case "sqlite", "unix", "unixs":
		return nil, nil
	case "postgres", "postgresql":
		u, err := url.Parse(ep)
		if err != nil {
			return nil, fmt.Errorf("datastore endpoint: %w", err)
		}
		return []string{withPort(u.Host, "5432")}, nil
	case "mysql":
		// go-sql-driver style: user:pass@tcp(host:port)/db
		at := strings.LastIndex(rest, "@")
		hostPart := rest[at+1:]
		if i := strings.Index(hostPart, "/"); i >= 0 {
			hostPart = hostPart[:i]
		}
		if strings.HasPrefix(hostPart, "unix(") {
			return nil, nil
		}
		hostPart = strings.TrimSuffix(strings.TrimPrefix(hostPart, "tcp("), ")")
		return []string{withPort(hostPart, "3306")}, nil
	case "http", "https":
		var addrs []string
		for _, e := range strings.Split(ep, ",") {
			u, err := url.Parse(strings.TrimSpace(e))
			if err != nil {
				return nil, fmt.Errorf("datastore endpoint: %w", err)
			}
			addrs = append(addrs, withPort(u.Host, "2379"))
		}
		return addrs, nil
	default:
		return nil, fmt.Errorf("datastore endpoint scheme %q is not supported (want postgres://, mysql://, http(s):// for etcd, or sqlite://)", scheme)
	}
}

func withPort(host, port string) string {
	if host == "" {
		host = "localhost"
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// probe waits up to timeout for any of the endpoint's addresses to accept a
// TCP connection.
func probe(ctx context.Context, ep string, timeout time.Duration) error {
	addrs, err := probeAddrs(ep)
	if err != nil || len(addrs) == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		for _, a := range addrs {
			conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", a)
			if err == nil {
				conn.Close()
				return nil
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("datastore endpoint %s unreachable after %s: %v", redact(ep), timeout, lastErr)
		case <-time.After(time.Second):
		}
	}
}
