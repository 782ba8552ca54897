package token

import "testing"

// FuzzParse reads any string as a token: an error, or a token that
// prints back to a string Parse reads as the same token.
func FuzzParse(f *testing.F) {
	hash := CAHash([]byte("ca"))
	for _, s := range []string{"K10" + hash + "::server:s3cret", "K10" + hash + "::abcdef.0123456789abcdef", "s3cret", "K10::", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(tok.String())
		if err != nil || again != tok {
			t.Errorf("%q parsed as %+v, printed %q, read back as %+v, %v", s, tok, tok.String(), again, err)
		}
	})
}
