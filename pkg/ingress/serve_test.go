package ingress

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A port another program holds is reported; the other port serves, and a
// change of ports moves the listeners.
func TestListenersKeepServingBesideATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cert, err := selfSigned("node")
	if err != nil {
		t.Fatal(err)
	}
	ls := newListeners(context.Background(), NewProxy(), []string{"127.0.0.1"}, cert)
	defer ls.stop()
	httpPort := freePort(t)
	takenPort := taken.Addr().(*net.TCPAddr).Port
	if err := ls.set(Ports{HTTP: httpPort, HTTPS: takenPort}, nil); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("listening on a taken port: %v", err)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(httpPort) + "/")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the other port: %v %v", resp, err)
	}
	resp.Body.Close()

	httpsPort := freePort(t)
	if err := ls.set(Ports{HTTP: httpPort, HTTPS: httpsPort}, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpsPort), &tls.Config{InsecureSkipVerify: true, ServerName: "x.example", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if st.NegotiatedProtocol != "h2" || st.PeerCertificates[0].Subject.CommonName != "edgeos ingress default certificate" {
		t.Errorf("HTTPS: protocol %q, certificate %q", st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName)
	}

	if err := ls.set(Ports{}, nil); err != nil {
		t.Fatal(err)
	}
	ls.wg.Wait()
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpPort)); err == nil {
		t.Error("still listening after the ports were taken away")
	}
}
