package netpol

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// inNetNS runs f on a thread of its own in a new network namespace; the
// thread ends with f, and the namespace with it. Tests and the sync bench
// use it.
func inNetNS(t testing.TB, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a network namespace of its own for nftables")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// never unlocked: the thread, in the test's namespace, exits
		// with this goroutine
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		f()
	}()
	<-done
}

// dump is the table as the kernel holds it, in a form two tables can be
// compared by: each set with its elements, each chain with its rules.
func dump() (string, error) {
	conn, err := nftables.New()
	if err != nil {
		return "", err
	}
	tbl := table()
	var lines []string
	sets, err := conn.GetSets(tbl)
	if err != nil {
		return "", fmt.Errorf("sets: %w", err)
	}
	for _, s := range sets {
		els, err := conn.GetSetElements(s)
		if err != nil {
			return "", fmt.Errorf("set %s: %w", s.Name, err)
		}
		var e []string
		for _, el := range els {
			v := ""
			if el.VerdictData != nil {
				v = fmt.Sprintf(":%d/%s", el.VerdictData.Kind, el.VerdictData.Chain)
			}
			e = append(e, fmt.Sprintf("%v%s", el.Key, v))
		}
		sort.Strings(e)
		lines = append(lines, fmt.Sprintf("set %s %v", s.Name, e))
	}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return "", err
	}
	for _, c := range chains {
		if c.Table.Name != TableName {
			continue
		}
		rules, err := conn.GetRules(tbl, c)
		if err != nil {
			return "", fmt.Errorf("chain %s: %w", c.Name, err)
		}
		var rs []string
		for _, r := range rules {
			var ex []string
			for _, e := range r.Exprs {
				ex = append(ex, fmt.Sprintf("%T%+v", e, e))
			}
			rs = append(rs, strings.Join(ex, " "))
		}
		lines = append(lines, fmt.Sprintf("chain %s\n  %s", c.Name, strings.Join(rs, "\n  ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

// TestKernelUpdate: a table brought from one ruleset to another by
// differences holds what a table written anew holds; a failed write is
// followed by a whole one; Remove leaves no table.
func TestKernelUpdate(t *testing.T) {
	clients := policy("a", "clients", networkingv1.NetworkPolicySpec{
		PodSelector: *sel("app", "server"),
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "client")}, {IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.128/25"}}}},
			Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromString("http")), tcp(intstr.FromInt32(9000))},
		}},
	})
	egress := policy("a", "egress", networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "y")}}}},
	})
	steps := []View{
		cluster(),
		cluster(clients),
		cluster(clients, egress),
		cluster(egress),
		cluster(clients, egress, policy("b", "deny", networkingv1.NetworkPolicySpec{})),
		cluster(),
	}
	// a client goes (a set loses an address); then a pod gains the
	// label a policy selects while the policy's one pod here goes
	gone := cluster(clients, egress)
	gone.Pods = append(gone.Pods[:1:1], gone.Pods[2:]...)
	relabelled := cluster(clients, egress)
	relabelled.Pods[2].Labels = map[string]string{"role": "client", "app": "server"}
	relabelled.Pods = relabelled.Pods[1:]
	steps = append(steps[:3], append([]View{gone, relabelled}, steps[3:]...)...)

	var want []string
	inNetNS(t, func() {
		for _, v := range steps {
			rs, _ := Plan(v)
			k := &kernel{}
			if err := k.apply(rs); err != nil {
				t.Errorf("writing anew: %v", err)
				return
			}
			d, err := dump()
			if err != nil {
				t.Errorf("reading the table: %v", err)
				return
			}
			want = append(want, d)
		}
	})
	if t.Failed() || len(want) != len(steps) {
		return
	}
	inNetNS(t, func() {
		if err := probe(); err != nil {
			t.Errorf("probe on a kernel with nf_tables: %v", err)
		}
		k := &kernel{}
		for i, v := range steps {
			rs, _ := Plan(v)
			if err := k.apply(rs); err != nil {
				t.Errorf("step %d: %v", i, err)
				return
			}
			if got, err := dump(); err != nil || got != want[i] {
				t.Errorf("step %d (%v): the updated table differs from one written anew:\n%s\nwant:\n%s", i, err, got, want[i])
			}
		}
		// a rule naming a set the kernel lacks: the write fails, and the
		// next is a whole one
		bad, _ := Plan(steps[2])
		bad.Chains["broken"] = []Rule{{Src: Addr{Set: "no-such-set"}, Verdict: Verdict{Kind: Accept}}}
		if err := k.apply(bad); err == nil {
			t.Errorf("a rule naming a missing set was written")
		}
		if k.applied != nil {
			t.Errorf("after a failed write the kernel's state is still taken as known")
		}
		rs, _ := Plan(steps[2])
		if err := k.apply(rs); err != nil {
			t.Errorf("after a failure: %v", err)
		}
		if got, err := dump(); err != nil || got != want[2] {
			t.Errorf("after a failure, the table differs from one written anew")
		}
		if err := Remove(); err != nil {
			t.Errorf("remove: %v", err)
		}
		conn, _ := nftables.New()
		if _, err := conn.ListTableOfFamily(TableName, nftables.TableFamilyINet); err == nil {
			t.Errorf("the table is still there after Remove")
		}
		if err := Remove(); err != nil {
			t.Errorf("remove without a table: %v", err)
		}
	})
}

// TestKernelLarge: 100 policies over 300 pods (about 600 rules and 75
// sets) go in one transaction; the kernel's acknowledgements of every
// message do not overflow the socket.
func TestKernelLarge(t *testing.T) {
	rs, problems := Plan(large())
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	inNetNS(t, func() {
		k := &kernel{}
		if err := k.apply(rs); err != nil {
			t.Errorf("writing 100 policies' rules: %v", err)
		}
	})
}
