package leader

import (
	"strings"
	"testing"
	"time"
)

func TestTimingCheck(t *testing.T) {
	for _, tc := range []struct {
		timing Timing
		want   string // "" when accepted
	}{
		{Timing{}, ""},
		{Timing{LeaseDuration: 20 * time.Second}, ""},
		{Timing{LeaseDuration: 60 * time.Second, RenewDeadline: 40 * time.Second, RetryPeriod: 5 * time.Second}, ""},
		// the default renew deadline is 10 s
		{Timing{LeaseDuration: 10 * time.Second}, "lease duration 10s must be longer than the renew deadline 10s"},
		{Timing{RenewDeadline: 20 * time.Second}, "lease duration 15s must be longer than the renew deadline 20s"},
		{Timing{RetryPeriod: 9 * time.Second}, "renew deadline 10s must be longer than 1.2 retry periods (9s)"},
		{Timing{RetryPeriod: -time.Second}, "negative duration"},
	} {
		err := tc.timing.Check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.timing, err, tc.want)
		}
	}
}
