package logforward

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/edgeos/edgeos/pkg/logforward/endpoint"
	"google.golang.org/protobuf/encoding/protowire"
)

// encode makes one push request of entries from node. Entries of one
// source keep their order.
func encode(p endpoint.Protocol, node string, entries []Entry) []byte {
	if p == endpoint.OTLP {
		return encodeOTLP(node, entries)
	}
	return encodeLoki(node, entries)
}

// streamKey is what one Loki stream (one OTLP resource) holds.
type streamKey struct {
	src    Source
	stream string
}

// group splits entries by source, in order of first appearance.
func group(entries []Entry, byStream bool) ([]streamKey, map[streamKey][]Entry) {
	var order []streamKey
	groups := map[streamKey][]Entry{}
	for _, e := range entries {
		k := streamKey{src: e.Source}
		if byStream {
			k.stream = e.Stream
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	return order, groups
}

// Loki labels: node, and namespace, pod, container and stream for a
// container's line, job="edgeos" for edgeos's own.
func lokiLabels(node string, k streamKey) map[string]string {
	l := map[string]string{"node": node}
	if k.src.Own() {
		l["job"] = "edgeos"
		return l
	}
	l["namespace"], l["pod"], l["container"] = k.src.Namespace, k.src.Pod, k.src.Container
	if k.stream != "" {
		l["stream"] = k.stream
	}
	return l
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

func encodeLoki(node string, entries []Entry) []byte {
	order, groups := group(entries, true)
	req := struct {
		Streams []lokiStream `json:"streams"`
	}{}
	for _, k := range order {
		s := lokiStream{Stream: lokiLabels(node, k)}
		for _, e := range groups[k] {
			s.Values = append(s.Values, [2]string{strconv.FormatInt(e.Time, 10), e.Line})
		}
		req.Streams = append(req.Streams, s)
	}
	b, _ := json.Marshal(req) // maps and strings only
	return b
}

// OTLP: one ResourceLogs per source, with the Kubernetes resource
// attributes of OpenTelemetry's semantic conventions (service.name
// "edgeos" for edgeos's own), the stream as log.iostream.
func encodeOTLP(node string, entries []Entry) []byte {
	order, groups := group(entries, false)
	var req []byte
	for _, k := range order {
		var res []byte
		attr := func(key, v string) {
			if v != "" {
				res = protowire.AppendTag(res, 1, protowire.BytesType)
				res = protowire.AppendBytes(res, keyValue(key, v))
			}
		}
		if k.src.Own() {
			attr("service.name", "edgeos")
		} else {
			attr("k8s.namespace.name", k.src.Namespace)
			attr("k8s.pod.name", k.src.Pod)
			attr("k8s.pod.uid", k.src.UID)
			attr("k8s.container.name", k.src.Container)
		}
		attr("k8s.node.name", node)

		var scope []byte
		scope = protowire.AppendTag(scope, 1, protowire.BytesType)
		scope = protowire.AppendBytes(scope, appendString(nil, 1, "edgeos"))
		for _, e := range groups[k] {
			scope = protowire.AppendTag(scope, 2, protowire.BytesType)
			scope = protowire.AppendBytes(scope, logRecord(e))
		}

		var rl []byte
		rl = protowire.AppendTag(rl, 1, protowire.BytesType)
		rl = protowire.AppendBytes(rl, res)
		rl = protowire.AppendTag(rl, 2, protowire.BytesType)
		rl = protowire.AppendBytes(rl, scope)

		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendBytes(req, rl)
	}
	return req
}

func logRecord(e Entry) []byte {
	var r []byte
	r = protowire.AppendTag(r, 1, protowire.Fixed64Type)
	r = protowire.AppendFixed64(r, uint64(e.Time))
	r = protowire.AppendTag(r, 5, protowire.BytesType)
	// a protobuf string must be UTF-8: a receiver refuses the whole
	// request over one line of a program's binary output
	r = protowire.AppendBytes(r, anyString(strings.ToValidUTF8(e.Line, "\uFFFD")))
	if e.Stream != "" {
		r = protowire.AppendTag(r, 6, protowire.BytesType)
		r = protowire.AppendBytes(r, keyValue("log.iostream", e.Stream))
	}
	return r
}

// keyValue is an OTLP KeyValue with a string value.
func keyValue(k, v string) []byte {
	b := appendString(nil, 1, k)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, anyString(v))
}

// anyString is an OTLP AnyValue holding a string.
func anyString(s string) []byte { return appendString(nil, 1, s) }

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}
