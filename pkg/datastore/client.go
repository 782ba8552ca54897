package datastore

import (
	"errors"
	"time"

	kinetls "github.com/k3s-io/kine/pkg/tls"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Client is an etcd client of the running datastore: kine's socket, or
// the etcd named as the datastore with its TLS files. Close it after use.
func (d *Datastore) Client() (*clientv3.Client, error) {
	d.mu.Lock()
	eps, direct := d.endpoints, d.direct
	d.mu.Unlock()
	if len(eps) == 0 {
		return nil, errors.New("datastore: not running")
	}
	tlsCfg, err := kinetls.Config{CAFile: d.cfg.CAFile, CertFile: d.cfg.CertFile, KeyFile: d.cfg.KeyFile}.ClientConfig()
	if err != nil {
		return nil, err
	}
	if !direct {
		tlsCfg = nil // kine's own socket: the TLS files are for its backend
	}
	return clientv3.New(clientv3.Config{Endpoints: eps, TLS: tlsCfg, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
}
