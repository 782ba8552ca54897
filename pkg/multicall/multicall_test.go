package multicall

import (
	"slices"
	"testing"
)

func TestFlagsSorted(t *testing.T) {
	got := Flags(map[string]string{"b": "2", "a": "x=y", "c": ""})
	if want := []string{"--a=x=y", "--b=2", "--c="}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestMergeUserWins(t *testing.T) {
	got := Merge(map[string]string{"a": "own", "b": "own"}, []string{"--a=user", "c=x=y"})
	if got["a"] != "user" || got["b"] != "own" || got["c"] != "x=y" || len(got) != 3 {
		t.Fatalf("%v", got)
	}
}

func TestCheckArgs(t *testing.T) {
	if errs := CheckArgs("--x-arg", []string{"a=1", "--b=", "c=d=e"}); len(errs) != 0 {
		t.Errorf("valid arguments refused: %v", errs)
	}
	errs := CheckArgs("--x-arg", []string{"novalue", "=1", "--=2"})
	if len(errs) != 3 {
		t.Fatalf("%v", errs)
	}
	if msg := errs[0].Error(); msg != `--x-arg "novalue" must be key=value` {
		t.Errorf("message %q", msg)
	}
}
