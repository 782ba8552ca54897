package token

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	hash := CAHash([]byte("ca"))
	full, err := Parse("K10" + hash + "::server:s3cret\n")
	if err != nil {
		t.Fatal(err)
	}
	if full.CAHash != hash || full.Credential != "server:s3cret" {
		t.Fatalf("parsed %+v", full)
	}
	if full.String() != "K10"+hash+"::server:s3cret" {
		t.Fatalf("round trip gave %q", full.String())
	}
	bare, err := Parse("abcdef.0123456789abcdef")
	if err != nil || bare.CAHash != "" || bare.Credential != "abcdef.0123456789abcdef" {
		t.Fatalf("bare credential: %+v %v", bare, err)
	}
	for _, bad := range []string{"", "  ", "K10nothex::server:x", "K10" + hash + "::"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a malformed token", bad)
		}
	}
}

func TestVerifyCA(t *testing.T) {
	tok := Token{CAHash: CAHash([]byte("right ca")), Credential: "server:x"}
	if err := tok.VerifyCA([]byte("right ca")); err != nil {
		t.Fatalf("matching CA refused: %v", err)
	}
	err := tok.VerifyCA([]byte("other ca"))
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong CA accepted or unclear error: %v", err)
	}
	if err := (Token{Credential: "server:x"}).VerifyCA([]byte("right ca")); err == nil {
		t.Fatal("a token without CA hash verified a CA")
	}
}

func TestServerCredential(t *testing.T) {
	if got := ServerCredential("abc"); got != "server:abc" {
		t.Fatal(got)
	}
	if got := ServerCredential("server:abc"); got != "server:abc" {
		t.Fatal(got)
	}
}

func TestRandomStringAlphabet(t *testing.T) {
	s, err := randomString(64)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 64 || strings.Trim(s, tokenChars) != "" {
		t.Fatalf("random string %q is not 64 chars of [a-z0-9]", s)
	}
	if !bootstrapPattern.MatchString(s[:6] + "." + s[6:22]) {
		t.Fatal("generated id.secret does not match the bootstrap token pattern")
	}
}

// A negative --ttl is refused before anything is stored (0 is "never
// expires", not a negative one).
func TestCreateRefusesNegativeTTL(t *testing.T) {
	_, err := Create(context.Background(), nil, "", -time.Hour, "")
	if err == nil || !strings.Contains(err.Error(), "--ttl -1h0m0s") {
		t.Errorf("Create with a negative TTL: %v, want an error naming --ttl", err)
	}
}
