package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Bounds of DefaultBackoff, and the longest Retry-After honoured.
const (
	backoffBase   = 500 * time.Millisecond
	backoffCap    = time.Minute
	maxRetryAfter = 10 * time.Minute
)

// DefaultBackoff is the delay before retry number attempt (1 for the second
// attempt): a bound that doubles from 0.5 s up to one minute, and a delay
// drawn uniformly between half the bound and the bound. The jitter keeps the
// events that failed together (a backend restart) from coming back together;
// the lower half keeps a retry from following its failure at once.
func DefaultBackoff(attempt int) time.Duration {
	bound := backoffCap
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 8 { // 0.5 s << 7 = 64 s: the cap is reached by then
		bound = min(backoffCap, backoffBase<<(attempt-1))
	}
	half := bound / 2
	return half + rand.N(half+1)
}

// retryAfter reads a Retry-After header (delay seconds or an HTTP date),
// capped at maxRetryAfter; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}
