package clusterkeys

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Key is where in the datastore the sealed files are kept: outside
// /registry, where the apiserver never looks.
const Key = "/edgeos/cluster-keys"

// EtcdStore keeps the sealed files in one key of an etcd API: kine's, or
// an etcd named as the datastore.
type EtcdStore struct {
	KV  clientv3.KV
	Key string
}

func (s EtcdStore) Get(ctx context.Context) ([]byte, bool, error) {
	r, err := s.KV.Get(ctx, s.Key)
	if err != nil {
		return nil, false, err
	}
	if len(r.Kvs) == 0 {
		return nil, false, nil
	}
	return r.Kvs[0].Value, true, nil
}

// Create is a transaction of the one shape kine serves as a create: put if
// the key's mod revision is 0.
func (s EtcdStore) Create(ctx context.Context, value []byte) (bool, error) {
	r, err := s.KV.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.Key), "=", 0)).
		Then(clientv3.OpPut(s.Key, string(value))).
		Commit()
	if err != nil {
		return false, err
	}
	return r.Succeeded, nil
}
