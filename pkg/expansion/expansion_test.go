package expansion

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestLimit(t *testing.T) {
	data := make([]byte, 5000)
	// 10 bytes of file may give 1000 bytes, or the floor
	if _, err := io.ReadAll(Limit(bytes.NewReader(data), 10, 100, "x")); err == nil || !strings.Contains(err.Error(), "decompression bomb") {
		t.Fatalf("5000 bytes out of 10: %v", err)
	}
	if got, err := io.ReadAll(Limit(bytes.NewReader(data), 10, 5000, "x")); err != nil || len(got) != 5000 {
		t.Fatalf("within the floor: %d bytes, %v", len(got), err)
	}
	if got, err := io.ReadAll(Limit(bytes.NewReader(data), 50, 0, "x")); err != nil || len(got) != 5000 {
		t.Fatalf("a hundredfold exactly: %d bytes, %v", len(got), err)
	}
}
