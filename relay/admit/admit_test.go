package admit

import (
	"net/netip"
	"testing"
	"time"
)

func ip(s string) netip.Addr { return IPKey(netip.MustParseAddr(s)) }

func TestQuotaCaps(t *testing.T) {
	now := time.Unix(0, 0)
	q := New(Config{MaxPendingPerIP: 2, MaxSessionsPerIP: 3, MaxPending: 4, MaxSessions: 6, NewPerSec: 1000, NewBurst: 1000})
	a, b, c := ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")
	steps := []struct {
		ip   netip.Addr
		want Refusal
	}{
		{a, OK}, {a, OK}, {a, PerIPPending}, // two half-open per IP
		{b, OK}, {b, OK}, {c, PendingCap}, // four half-open in all
	}
	for i, s := range steps {
		if got := q.Admit(s.ip, now); got != s.want {
			t.Fatalf("step %d: %v, want %v", i, got, s.want)
		}
	}
	q.Establish(a, true)
	q.Establish(a, true)
	if got := q.Admit(a, now); got != OK { // a: 3 sessions, 1 pending
		t.Fatalf("a's third: %v", got)
	}
	q.Establish(a, true)
	if got := q.Admit(a, now); got != PerIPCap || !got.Full() {
		t.Fatalf("a's fourth: %v (full %v)", got, got.Full())
	}
	if got := q.Admit(c, now); got != OK { // 6 sessions now
		t.Fatalf("c: %v", got)
	}
	q.Establish(c, true)
	if got := q.Admit(ip("10.0.0.4"), now); got != SessionCap || !got.Full() {
		t.Fatalf("sixth session: %v", got)
	}
	q.Release(c, false)
	if p, s, ips := q.Counts(); p != 2 || s != 5 || ips != 2 {
		t.Fatalf("counts %d pending, %d sessions, %d IPs", p, s, ips)
	}
	if got := q.Admit(ip("10.0.0.4"), now); got != OK {
		t.Fatalf("after a release: %v", got)
	}
}

func TestQuotaRateSpendsNoTokenOnRefusal(t *testing.T) {
	now := time.Unix(0, 0)
	q := New(Config{NewPerSec: 1, NewBurst: 2, MaxPendingPerIP: 1})
	a := ip("10.0.0.1")
	if q.Admit(a, now) != OK || q.Admit(a, now) != PerIPPending {
		t.Fatal("per-IP pending cap")
	}
	if q.Admit(ip("10.0.0.2"), now) != OK || q.Admit(ip("10.0.0.3"), now) != RateCap {
		t.Fatal("the refused second hello of a must not have spent the burst")
	}
	if q.Admit(ip("10.0.0.3"), now.Add(time.Second)) != OK {
		t.Fatal("a token a second later")
	}
}

func TestQuotaIPv6CountsPerSlash64AndBans(t *testing.T) {
	now := time.Unix(0, 0)
	q := New(Config{MaxPendingPerIP: 1})
	if q.Admit(ip("2001:db8::1"), now) != OK || q.Admit(ip("2001:db8::ffff"), now) != PerIPPending {
		t.Fatal("one /64 is one source")
	}
	if q.Admit(ip("2001:db8:0:1::1"), now) != OK {
		t.Fatal("another /64 is another source")
	}
	if ip("::ffff:10.0.0.1") != ip("10.0.0.1") {
		t.Fatal("IPv4-mapped addresses count as IPv4")
	}
	q.SetBanned(func(a netip.Addr) bool { return a == ip("10.9.9.9") })
	if r := q.Admit(ip("10.9.9.9"), now); r != Banned || r.Full() {
		t.Fatalf("banned: %v", r)
	}
}

// Callers read the clock before they take the quota's lock (the KCP and
// WebSocket listeners share one quota), so times arrive slightly out of
// order under load. The rate must hold all the same: an earlier time must
// not rewind the token bucket, which would refill the same interval twice.
func TestQuotaRateHoldsWithTimesOutOfOrder(t *testing.T) {
	t0 := time.Unix(0, 0)
	q := New(Config{NewPerSec: 100, NewBurst: 10, MaxSessions: 1 << 20, MaxPending: 1 << 20})
	admitted := 0
	n := 0
	// One second of hellos, each from its own address, every 2 ms; every
	// other one carries a time read 20 ms earlier.
	for at := time.Duration(0); at <= time.Second; at += 2 * time.Millisecond {
		now := t0.Add(at)
		if n%2 == 1 && at >= 20*time.Millisecond {
			now = now.Add(-20 * time.Millisecond)
		}
		n++
		if q.Admit(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), now) == OK {
			admitted++
		}
	}
	if bound := 10 + 100 + 1; admitted > bound {
		t.Fatalf("admitted %d in one second, the burst and the rate allow %d", admitted, bound)
	}
	t.Logf("admitted %d of %d", admitted, n)
}
