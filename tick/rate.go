package tick

import (
	"errors"
	"fmt"
	"time"
)

const (
	// DefaultRate is the tick rate used when Loop.Rate is 0.
	DefaultRate = 30
	// MaxRate bounds the tick rate: above it the per-tick budget gets too
	// small for a frame per client and timer slack dominates the period.
	MaxRate = 128
)

// ErrInvalidRate is wrapped by the errors ValidRate and ResolveRate return,
// so callers can test for it with errors.Is.
var ErrInvalidRate = errors.New("tick: invalid rate")

// ValidRate reports whether r is acceptable as Loop.Rate: 1..MaxRate ticks
// per second, or 0 to select DefaultRate.
func ValidRate(r int) error {
	if r < 0 || r > MaxRate {
		return fmt.Errorf("%w: %d ticks/s, want 1..%d (or 0 for %d)",
			ErrInvalidRate, r, MaxRate, DefaultRate)
	}
	return nil
}

// ResolveRate validates r like ValidRate and returns the rate that will
// actually run, so a server can advertise it to clients.
func ResolveRate(r int) (int, error) {
	if err := ValidRate(r); err != nil {
		return 0, err
	}
	if r == 0 {
		return DefaultRate, nil
	}
	return r, nil
}

// periodOf converts a resolved rate to a tick period. Rates that do not
// divide a second evenly truncate to the nanosecond; that is harmless
// because due times are defined as multiples of this exact period.
func periodOf(rate int) time.Duration {
	return time.Second / time.Duration(rate)
}
