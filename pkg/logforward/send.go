package logforward

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/edgeos/edgeos/pkg/logforward/endpoint"
)

// sender posts batches to the target.
type sender struct {
	target endpoint.Target
	node   string
	client *http.Client
	// endpoint is the target's URL without its user info, which goes in
	// the Authorization header and so never in an error.
	endpoint string
	user     *url.Userinfo
}

func newSender(t endpoint.Target, node string) *sender {
	u := *t.URL
	u.User = nil
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.IdleConnTimeout = 1, time.Minute
	return &sender{target: t, node: node, endpoint: u.String(), user: t.URL.User,
		client: &http.Client{Transport: tr, Timeout: sendTimeout}}
}

// sendTimeout bounds one request; a slow link gets a batch through in it.
const sendTimeout = 30 * time.Second

// errRejected: the endpoint refused the batch for what it holds; sending
// it again would be refused again.
var errRejected = errors.New("rejected")

// send posts one batch, gzipped.
func (s *sender) send(ctx context.Context, entries []Entry) error {
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	_, _ = zw.Write(encode(s.target.Protocol, s.node, entries))
	if err := zw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", s.target.Protocol.ContentType())
	req.Header.Set("Content-Encoding", "gzip")
	if s.user != nil {
		pw, _ := s.user.Password()
		req.SetBasicAuth(s.user.Username(), pw)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests || c == http.StatusRequestTimeout || c >= 500:
		return fmt.Errorf("%s answered %s", s.endpoint, resp.Status)
	default:
		return fmt.Errorf("%w by %s: %s: %s", errRejected, s.endpoint, resp.Status, bytes.TrimSpace(msg))
	}
}
