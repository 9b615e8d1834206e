package kcplink

import (
	"testing"

	"github.com/tickrelay/tickrelay/internal/kcpx"
)

// The tick sets a session's due time exactly, later as well as earlier, or
// takes it out of the heap; the heap stays ordered throughout.
func TestRescheduleSetsTheExactDueTime(t *testing.T) {
	tr := New(nil, Config{}, nil, nil)
	ss := make([]*session, 50)
	now := uint32(1000)
	for i := range ss {
		ss[i] = &session{hidx: -1}
		tr.reschedule(ss[i], 60+i%7, now)
	}
	check := func(when string) {
		t.Helper()
		for i := range tr.heap {
			if tr.heap[i].hidx != i {
				t.Fatalf("%s: heap[%d] has index %d", when, i, tr.heap[i].hidx)
			}
			if p := (i - 1) / 2; i > 0 && kcpx.Before(tr.heap[i].due, tr.heap[p].due) {
				t.Fatalf("%s: heap[%d] due %d before its parent's %d", when, i, tr.heap[i].due, tr.heap[p].due)
			}
		}
	}
	check("pushed")
	s := ss[3]
	tr.reschedule(s, 500, now) // a frame acked, the next one sent: later
	if s.due != now+500 || s.hidx < 0 {
		t.Fatalf("later: due %d (index %d), want %d", s.due, s.hidx, now+500)
	}
	check("later")
	tr.reschedule(s, 5, now)
	if s.due != now+5 || tr.heap[0] != s {
		t.Fatalf("earlier: due %d, heap top due %d", s.due, tr.heap[0].due)
	}
	check("earlier")
	tr.reschedule(s, -1, now) // nothing left to do
	if s.hidx != -1 || len(tr.heap) != len(ss)-1 {
		t.Fatalf("none: index %d, heap of %d", s.hidx, len(tr.heap))
	}
	check("removed")
	tr.reschedule(s, -1, now) // and not in the heap: nothing to do
	tr.schedule(s, 40, now)   // input only ever moves it earlier
	tr.schedule(s, 400, now)
	if s.due != now+40 {
		t.Fatalf("schedule: due %d, want %d", s.due, now+40)
	}
	check("scheduled")
}
