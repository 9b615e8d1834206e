package webhook

import (
	"container/heap"
	"time"
)

// pending is one event on its way: its body is fixed at Enqueue, so every
// attempt sends the same bytes (only the signature's time changes).
type pending struct {
	room     uint32
	id       string
	typ      string
	seq      uint64
	body     []byte
	enqueued time.Time
	attempts int // made so far
}

// roomQueue is one room's events, oldest first. Only the head is ever in
// flight, which is what keeps a room's events in order.
type roomQueue struct {
	events []*pending
	busy   bool // the head is being delivered
}

// queue is the dispatcher's state machine, without I/O or goroutines: which
// event to send next, bounded in events and bytes, in order per room and
// fair across rooms (a room whose head was just delivered goes to the back
// of the line). The caller serialises access and supplies the time.
type queue struct {
	maxEvents, maxBytes int

	events, bytes int // held: waiting, in backoff or in flight
	rooms         map[uint32]*roomQueue
	ready         []uint32 // rooms whose head can be sent now, in turn
	waiting       dueHeap  // rooms whose head waits for a retry
	seq           map[uint32]uint64
}

func newQueue(maxEvents, maxBytes int) *queue {
	return &queue{maxEvents: maxEvents, maxBytes: maxBytes, rooms: map[uint32]*roomQueue{}, seq: map[uint32]uint64{}}
}

// nextSeq numbers the room's next event. Every event gets a number, kept
// or dropped, so that a backend sees a gap where one was dropped.
func (q *queue) nextSeq(room uint32) uint64 {
	q.seq[room]++
	return q.seq[room]
}

// forget ends the room's numbering (its room.closed event): the next event
// of a room with that id starts again at 1. It keeps the map from growing
// with every room the relay ever had.
func (q *queue) forget(room uint32) { delete(q.seq, room) }

// push adds p behind its room's other events, or returns why it is dropped.
func (q *queue) push(p *pending) string {
	if len(p.body) > q.maxBytes {
		return DropTooLarge
	}
	if q.events+1 > q.maxEvents || q.bytes+len(p.body) > q.maxBytes {
		return DropQueueFull
	}
	q.events++
	q.bytes += len(p.body)
	r := q.rooms[p.room]
	if r == nil {
		r = &roomQueue{}
		q.rooms[p.room] = r
		q.ready = append(q.ready, p.room)
	}
	r.events = append(r.events, p)
	return ""
}

// take returns the next event to send and marks its room busy. With none
// ready it returns nil and how long until a retry is due (-1: none waits).
func (q *queue) take(now time.Time) (*pending, time.Duration) {
	for len(q.waiting) > 0 && !q.waiting[0].due.After(now) {
		w := heap.Pop(&q.waiting).(dueRoom)
		q.ready = append(q.ready, w.room)
	}
	if len(q.ready) == 0 {
		if len(q.waiting) == 0 {
			return nil, -1
		}
		return nil, q.waiting[0].due.Sub(now)
	}
	room := q.ready[0]
	q.ready[0] = 0
	q.ready = q.ready[1:]
	r := q.rooms[room]
	r.busy = true
	return r.events[0], 0
}

// finish removes p, its room's head, once delivered or given up, and lets
// the room's next event go.
func (q *queue) finish(p *pending) {
	r := q.rooms[p.room]
	r.events[0] = nil
	r.events = r.events[1:]
	r.busy = false
	q.events--
	q.bytes -= len(p.body)
	if len(r.events) == 0 {
		delete(q.rooms, p.room)
		return
	}
	q.ready = append(q.ready, p.room)
}

// retry keeps p at its room's head and holds the room until due.
func (q *queue) retry(p *pending, due time.Time) {
	r := q.rooms[p.room]
	r.busy = false
	heap.Push(&q.waiting, dueRoom{due: due, room: p.room})
}

// drain removes and returns every event not in flight (for a shutdown);
// events in flight stay until their attempt ends.
func (q *queue) drain() []*pending {
	var out []*pending
	for room, r := range q.rooms {
		start := 0
		if r.busy {
			start = 1
		}
		for _, p := range r.events[start:] {
			q.events--
			q.bytes -= len(p.body)
			out = append(out, p)
		}
		r.events = r.events[:start]
		if len(r.events) == 0 {
			delete(q.rooms, room)
		}
	}
	q.ready, q.waiting = nil, nil
	return out
}

type dueRoom struct {
	due  time.Time
	room uint32
}

// dueHeap is a min-heap of rooms by the time their retry is due.
type dueHeap []dueRoom

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueRoom)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
