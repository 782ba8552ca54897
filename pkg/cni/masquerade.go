package cni

import (
	"fmt"

	"github.com/edgeos/edgeos/pkg/cni/plugin"
)

// Pod traffic rules, in chains of our own so they are easy to find and
// remove:
//
//	nat POSTROUTING -> EDGEOS-POSTROUTING:
//	    -s cluster -d cluster            RETURN      pod to pod keeps its source
//	    -s cluster ! -d 224.0.0.0/4      MASQUERADE  pod egress leaves as the node
//	filter FORWARD -> EDGEOS-FORWARD:
//	    -s cluster ACCEPT, -d cluster ACCEPT         hosts whose FORWARD policy is DROP
const (
	postroutingChain = "EDGEOS-POSTROUTING"
	forwardChain     = "EDGEOS-FORWARD"
)

// masquerade installs the rules for the cluster CIDR, idempotently.
func masquerade(clusterCIDR string) error {
	ipt, err := plugin.OpenIPTables()
	if err != nil {
		return err
	}
	rules := []struct {
		table, chain, from string
		specs              [][]string
	}{
		{"nat", postroutingChain, "POSTROUTING", [][]string{
			{"-s", clusterCIDR, "-d", clusterCIDR, "-m", "comment", "--comment", "edgeos pod to pod", "-j", "RETURN"},
			{"-s", clusterCIDR, "!", "-d", "224.0.0.0/4", "-m", "comment", "--comment", "edgeos pod egress", "-j", "MASQUERADE", "--random-fully"},
		}},
		{"filter", forwardChain, "FORWARD", [][]string{
			{"-s", clusterCIDR, "-m", "comment", "--comment", "edgeos pod traffic", "-j", "ACCEPT"},
			{"-d", clusterCIDR, "-m", "comment", "--comment", "edgeos pod traffic", "-j", "ACCEPT"},
		}},
	}
	for _, r := range rules {
		if err := plugin.EnsureChain(ipt, r.table, r.chain); err != nil {
			return err
		}
		for _, spec := range r.specs {
			if err := ipt.AppendUnique(r.table, r.chain, spec...); err != nil {
				return fmt.Errorf("iptables %s %s: %w", r.table, r.chain, err)
			}
		}
		if err := ipt.AppendUnique(r.table, r.from, "-m", "comment", "--comment", "edgeos pod network", "-j", r.chain); err != nil {
			return fmt.Errorf("iptables %s %s: %w", r.table, r.from, err)
		}
	}
	return nil
}
