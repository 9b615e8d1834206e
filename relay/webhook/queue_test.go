package webhook

import (
	"testing"
	"time"
)

func ev(room uint32, seq uint64, size int) *pending {
	return &pending{room: room, seq: seq, body: make([]byte, size)}
}

func TestQueueKeepsEachRoomInOrderAndOneInFlight(t *testing.T) {
	q := newQueue(100, 1<<20)
	now := time.Unix(0, 0)
	for seq := uint64(1); seq <= 3; seq++ {
		for _, room := range []uint32{1, 2} {
			if r := q.push(ev(room, seq, 10)); r != "" {
				t.Fatalf("push: %s", r)
			}
		}
	}
	a, _ := q.take(now)
	b, _ := q.take(now)
	if a.room != 1 || a.seq != 1 || b.room != 2 || b.seq != 1 {
		t.Fatalf("first takes: room %d seq %d, room %d seq %d", a.room, a.seq, b.room, b.seq)
	}
	// Both rooms are in flight: nothing else may go.
	if p, wait := q.take(now); p != nil || wait != -1 {
		t.Fatalf("take with every room busy: %+v, wait %v", p, wait)
	}
	q.finish(b)
	if p, _ := q.take(now); p == nil || p.room != 2 || p.seq != 2 {
		t.Fatalf("after room 2's first: %+v", p)
	}
	// Room 1's head fails: it waits for its retry, and its seq 2 with it.
	q.retry(a, now.Add(time.Second))
	if p, wait := q.take(now); p != nil || wait != time.Second {
		t.Fatalf("room 1 in backoff, room 2 busy: %+v, wait %v", p, wait)
	}
	if p, _ := q.take(now.Add(time.Second)); p != a {
		t.Fatalf("at the retry time: %+v, want room 1's seq 1 again", p)
	}
	q.finish(a)
	if p, _ := q.take(now); p == nil || p.room != 1 || p.seq != 2 {
		t.Fatalf("after the retry succeeded: %+v", p)
	}
	if q.events != 4 || q.bytes != 40 {
		t.Errorf("held %d events, %d bytes; want 4, 40", q.events, q.bytes)
	}
}

func TestQueueIsFairAcrossRooms(t *testing.T) {
	q := newQueue(100, 1<<20)
	now := time.Unix(0, 0)
	for seq := uint64(1); seq <= 3; seq++ {
		q.push(ev(1, seq, 1))
	}
	q.push(ev(2, 1, 1))
	var order []uint32
	for range 4 {
		p, _ := q.take(now)
		order = append(order, p.room)
		q.finish(p)
	}
	// Room 1 does not keep the line while room 2 waits.
	if want := []uint32{1, 2, 1, 1}; !equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQueueBounds(t *testing.T) {
	q := newQueue(3, 100)
	if r := q.push(ev(1, 1, 101)); r != DropTooLarge {
		t.Errorf("event over the byte bound: %q", r)
	}
	for i := range 3 {
		if r := q.push(ev(1, uint64(i), 10)); r != "" {
			t.Fatalf("push %d: %s", i, r)
		}
	}
	if r := q.push(ev(2, 1, 10)); r != DropQueueFull {
		t.Errorf("fourth event with a bound of 3: %q", r)
	}
	q2 := newQueue(100, 100)
	q2.push(ev(1, 1, 60))
	if r := q2.push(ev(2, 1, 41)); r != DropQueueFull {
		t.Errorf("101 bytes with a bound of 100: %q", r)
	}
	if r := q2.push(ev(2, 1, 40)); r != "" {
		t.Errorf("100 bytes with a bound of 100: %q", r)
	}
	// Space comes back when events leave.
	p, _ := q.take(time.Unix(0, 0))
	q.finish(p)
	if r := q.push(ev(2, 1, 10)); r != "" {
		t.Errorf("push after one left: %q", r)
	}
}

func TestQueueSequenceNumbers(t *testing.T) {
	q := newQueue(1, 1000)
	if s := q.nextSeq(7); s != 1 {
		t.Errorf("first seq %d", s)
	}
	q.nextSeq(7)
	if s := q.nextSeq(8); s != 1 {
		t.Errorf("other room's first seq %d", s)
	}
	if s := q.nextSeq(7); s != 3 {
		t.Errorf("third seq %d", s)
	}
	q.forget(7)
	if s := q.nextSeq(7); s != 1 {
		t.Errorf("seq after forget %d, want 1", s)
	}
}

func TestQueueDrainLeavesEventsInFlight(t *testing.T) {
	q := newQueue(100, 1000)
	for seq := uint64(1); seq <= 3; seq++ {
		q.push(ev(1, seq, 10))
		q.push(ev(2, seq, 10))
	}
	busy, _ := q.take(time.Unix(0, 0))
	drained := q.drain()
	if len(drained) != 5 || q.events != 1 || q.bytes != 10 {
		t.Fatalf("drained %d, held %d events %d bytes; want 5, 1, 10", len(drained), q.events, q.bytes)
	}
	q.finish(busy)
	if q.events != 0 || len(q.rooms) != 0 {
		t.Errorf("after the last finished: %d events, %d rooms", q.events, len(q.rooms))
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, bound := range map[int]time.Duration{
		1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 7: 32 * time.Second,
		8: time.Minute, 9: time.Minute, 1000: time.Minute,
	} {
		lo, hi := bound, time.Duration(0)
		for range 200 {
			d := DefaultBackoff(attempt)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < bound/2 || hi > bound || hi-lo < bound/10 {
			t.Errorf("attempt %d: delays in [%v, %v], want spread over [%v, %v]", attempt, lo, hi, bound/2, bound)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "0": 0, "7": 7 * time.Second, "x": 0, "-3": 0, "99999": maxRetryAfter,
		"Thu, 03 Dec 2026 12:00:30 GMT": 30 * time.Second, "Thu, 03 Dec 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}
