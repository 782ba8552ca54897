package netpol

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TableName is edgeos's table: `nft list table inet edgeos-netpol` shows
// what the node enforces.
const TableName = "edgeos-netpol"

// The table's fixed parts: a base chain for each direction on the
// forward hook, which sees the pod network's traffic (bridged traffic
// too, through br_netfilter) after kube-proxy's DNAT, and a verdict map
// from an isolated pod's address to its chain. The node's own traffic to
// its pods (the kubelet's probes) takes the output hook and is not
// decided here, as the API allows. Egress is decided first: its accept
// ends only its own chain, and the packet goes on to ingress's.
const (
	egressChain  = "egress"
	ingressChain = "ingress"
	egressMap    = "egress-pods"
	ingressMap   = "ingress-pods"
)

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// kernel writes rulesets into this network namespace's nftables.
type kernel struct {
	// applied is what the kernel holds; nil: unknown (at start, or after
	// a failed write), and the next write replaces the whole table.
	applied *Ruleset
}

// apply makes the kernel hold rs: the first time, and after a failure,
// by replacing the table; otherwise by writing the difference from what
// it holds. Either is one transaction: a packet sees the old rules or the
// new, never a mix.
func (k *kernel) apply(rs Ruleset) error {
	if k.applied != nil && reflect.DeepEqual(*k.applied, rs) {
		// most changes of pods (a status, a node's other pods) change no rule
		return nil
	}
	conn, err := nftables.New(nftables.WithSockOptions(bigReceiveBuffer))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	var w writer
	w.conn, w.table = conn, table()
	if k.applied == nil {
		w.replace(rs)
	} else {
		w.update(*k.applied, rs)
	}
	if w.err == nil {
		w.err = conn.Flush()
	}
	if w.err != nil {
		k.applied = nil
		return fmt.Errorf("nftables table %s: %w", TableName, w.err)
	}
	k.applied = &rs
	return nil
}

// bigReceiveBuffer lets one transaction hold thousands of messages: the
// kernel answers each with an acknowledgement, all queued on the socket
// before the first is read, and the default buffer (rmem_default, about
// 200 KiB) overflows (ENOBUFS) at a few hundred rules. The size is a
// limit, not an allocation; forcing it past rmem_max takes CAP_NET_ADMIN,
// which writing nftables takes anyway.
func bigReceiveBuffer(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	}); err != nil {
		return err
	}
	return serr
}

// probe fails when this kernel has no nf_tables to write rules into.
func probe() error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	if _, err := conn.ListTablesOfFamily(nftables.TableFamilyINet); errors.Is(err, unix.EPROTONOSUPPORT) {
		return fmt.Errorf("the kernel has no nf_tables (CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET)")
	} else if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// Remove deletes edgeos's table, if there is one: for --disable
// network-policy and for edgeos's killall and uninstall. A kernel
// without nf_tables has none, and that is no error.
func Remove() error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := conn.ListTableOfFamily(TableName, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT) {
			return nil
		}
		return fmt.Errorf("looking for nftables table %s: %w", TableName, err)
	}
	conn.DelTable(table())
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("removing nftables table %s: %w", TableName, err)
	}
	return nil
}

// writer queues the messages of one transaction; the first error stays.
type writer struct {
	conn  *nftables.Conn
	table *nftables.Table
	err   error
}

func (w *writer) fail(err error) {
	if w.err == nil && err != nil {
		w.err = err
	}
}

// replace makes the table anew with rs in it.
func (w *writer) replace(rs Ruleset) {
	w.conn.AddTable(w.table)
	w.conn.DelTable(w.table)
	w.conn.AddTable(w.table)
	for _, name := range slices.Sorted(maps.Keys(rs.Sets)) {
		w.fail(w.conn.AddSet(w.set(name), elements(rs.Sets[name])))
	}
	for _, name := range slices.Sorted(maps.Keys(rs.Chains)) {
		w.conn.AddChain(w.chain(name))
	}
	for _, name := range slices.Sorted(maps.Keys(rs.Chains)) {
		w.rules(name, rs.Chains[name])
	}
	for _, m := range []struct {
		name string
		to   map[netip.Addr]string
	}{{egressMap, rs.Egress}, {ingressMap, rs.Ingress}} {
		w.fail(w.conn.AddSet(w.vmap(m.name), verdicts(m.to, slices.Collect(maps.Keys(m.to)))))
	}
	w.base(egressChain, -1, 12, egressMap)
	w.base(ingressChain, 0, 16, ingressMap)
}

// update writes what differs between old and rs, in an order the kernel
// accepts within one transaction: new sets and chains before the rules
// that name them, rules and map entries naming a chain or set gone
// before it goes.
func (w *writer) update(old, rs Ruleset) {
	for _, name := range slices.Sorted(maps.Keys(rs.Sets)) {
		have, ok := old.Sets[name]
		if !ok {
			w.fail(w.conn.AddSet(w.set(name), elements(rs.Sets[name])))
			continue
		}
		if add := missing(rs.Sets[name], have); len(add) > 0 {
			w.fail(w.conn.SetAddElements(w.set(name), add))
		}
		if del := missing(have, rs.Sets[name]); len(del) > 0 {
			w.fail(w.conn.SetDeleteElements(w.set(name), del))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rs.Chains)) {
		if _, ok := old.Chains[name]; !ok {
			w.conn.AddChain(w.chain(name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rs.Chains)) {
		have, ok := old.Chains[name]
		if ok && slices.Equal(have, rs.Chains[name]) {
			continue
		}
		if ok {
			w.conn.FlushChain(w.chain(name))
		}
		w.rules(name, rs.Chains[name])
	}
	w.updateMap(egressMap, old.Egress, rs.Egress)
	w.updateMap(ingressMap, old.Ingress, rs.Ingress)
	var gone []string
	for _, name := range slices.Sorted(maps.Keys(old.Chains)) {
		if _, ok := rs.Chains[name]; !ok {
			gone = append(gone, name)
			w.conn.FlushChain(w.chain(name))
		}
	}
	for _, name := range gone {
		w.conn.DelChain(w.chain(name))
	}
	for _, name := range slices.Sorted(maps.Keys(old.Sets)) {
		if _, ok := rs.Sets[name]; !ok {
			w.conn.DelSet(w.set(name))
		}
	}
}

// updateMap changes a verdict map's entries that differ: an entry whose
// chain changed is deleted and added again.
func (w *writer) updateMap(name string, old, now map[netip.Addr]string) {
	var del, add []netip.Addr
	for a, ch := range old {
		if now[a] != ch {
			del = append(del, a)
		}
	}
	for a, ch := range now {
		if old[a] != ch {
			add = append(add, a)
		}
	}
	m := w.vmap(name)
	if len(del) > 0 {
		w.fail(w.conn.SetDeleteElements(m, verdicts(old, del)))
	}
	if len(add) > 0 {
		w.fail(w.conn.SetAddElements(m, verdicts(now, add)))
	}
}

func (w *writer) set(name string) *nftables.Set {
	return &nftables.Set{Table: w.table, Name: name, KeyType: nftables.TypeIPAddr}
}

func (w *writer) vmap(name string) *nftables.Set {
	return &nftables.Set{Table: w.table, Name: name, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeVerdict}
}

func (w *writer) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: w.table}
}

func (w *writer) rules(chain string, rules []Rule) {
	ch := w.chain(chain)
	for _, r := range rules {
		w.conn.AddRule(&nftables.Rule{Table: w.table, Chain: ch, Exprs: ruleExprs(r)})
	}
}

// base adds a direction's base chain: replies and related packets of
// allowed connections pass; an IPv4 packet whose address (at offset off
// of the IP header: 12 source, 16 destination) is an isolated pod's goes
// to that pod's chain.
func (w *writer) base(name string, priority nftables.ChainPriority, off uint32, vmap string) {
	accept := nftables.ChainPolicyAccept
	ch := w.conn.AddChain(&nftables.Chain{
		Name: name, Table: w.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(priority), Policy: &accept,
	})
	w.conn.AddRule(&nftables.Rule{Table: w.table, Chain: ch, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}})
	w.conn.AddRule(&nftables.Rule{Table: w.table, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: vmap},
	}})
}

// ruleExprs is a rule in nftables expressions: ip saddr/daddr in a set or
// a prefix, the transport protocol, the destination port or range, the
// verdict.
func ruleExprs(r Rule) []expr.Any {
	var e []expr.Any
	if !r.Src.Any() || !r.Dst.Any() {
		// redundant after the base chains' own test, but it lets nft
		// show the addresses as "ip saddr"/"ip daddr"
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}})
	}
	e = append(e, addrExprs(r.Src, 12)...)
	e = append(e, addrExprs(r.Dst, 16)...)
	if r.Proto != 0 {
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.Proto}})
	}
	if r.Ports != (PortRange{}) {
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
		if r.Ports.First == r.Ports.Last {
			e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Ports.First)})
		} else {
			e = append(e, &expr.Range{Op: expr.CmpOpEq, Register: 1,
				FromData: binaryutil.BigEndian.PutUint16(r.Ports.First), ToData: binaryutil.BigEndian.PutUint16(r.Ports.Last)})
		}
	}
	v := &expr.Verdict{}
	switch r.Verdict.Kind {
	case Accept:
		v.Kind = expr.VerdictAccept
	case Drop:
		v.Kind = expr.VerdictDrop
	case Return:
		v.Kind = expr.VerdictReturn
	case Jump:
		v.Kind, v.Chain = expr.VerdictJump, r.Verdict.Chain
	}
	return append(e, v)
}

func addrExprs(a Addr, off uint32) []expr.Any {
	if a.Any() {
		return nil
	}
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
	if a.Set != "" {
		return []expr.Any{load, &expr.Lookup{SourceRegister: 1, SetName: a.Set}}
	}
	network := a.Prefix.Masked().Addr().As4()
	if a.Prefix.Bits() == 32 {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]}}
	}
	return []expr.Any{load,
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(a.Prefix.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]}}
}

func elements(s AddrSet) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(s))
	for _, a := range slices.SortedFunc(maps.Keys(s), netip.Addr.Compare) {
		k := a.As4()
		out = append(out, nftables.SetElement{Key: k[:]})
	}
	return out
}

// missing is what of a is not in b.
func missing(a, b AddrSet) []nftables.SetElement {
	var out AddrSet
	for x := range a {
		if _, ok := b[x]; !ok {
			if out == nil {
				out = AddrSet{}
			}
			out[x] = struct{}{}
		}
	}
	return elements(out)
}

func verdicts(m map[netip.Addr]string, addrs []netip.Addr) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(addrs))
	for _, a := range addrs {
		k := a.As4()
		out = append(out, nftables.SetElement{Key: k[:], VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: m[a]}})
	}
	return out
}
