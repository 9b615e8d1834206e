package cluster

import (
	"bytes"
	"slices"
	"time"
)

// roomTable decides which of this node's room records to write: the rooms
// the relay last published (desired) against what the bucket holds
// (written). A room whose record changed, or was last written a refresh
// period ago, is put; a written room no longer desired is deleted. A write
// that fails leaves written as it was, so the next plan tries again. No
// I/O: the run loop does the writes and reports back.
type roomTable struct {
	self    uint8
	desired map[uint32][]byte // room id to its encoded record
	written map[uint32]writtenRoom
}

type writtenRoom struct {
	enc []byte // nil: a key found in the bucket that this node no longer has
	at  time.Time
}

func newRoomTable(self uint8) *roomTable {
	return &roomTable{self: self, desired: map[uint32][]byte{}, written: map[uint32]writtenRoom{}}
}

// setDesired takes the relay's full set of rooms. Rooms are recorded as
// this node's, whatever their Node field says. A room other nodes would
// refuse to read is left out; their ids are returned.
func (t *roomTable) setDesired(rooms []Room) (refused []uint32) {
	next := make(map[uint32][]byte, len(rooms))
	for i := range rooms {
		r := rooms[i]
		r.Node = t.self
		if checkRoom(&r) != nil {
			refused = append(refused, r.ID)
			continue
		}
		next[r.ID] = appendRoom(nil, &r)
	}
	t.desired = next
	return refused
}

// plan lists the rooms to put and to delete now, each in id order.
func (t *roomTable) plan(now time.Time, refresh time.Duration) (puts, dels []uint32) {
	for id, enc := range t.desired {
		w, ok := t.written[id]
		if !ok || !bytes.Equal(w.enc, enc) || now.Sub(w.at) >= refresh {
			puts = append(puts, id)
		}
	}
	for id := range t.written {
		if _, ok := t.desired[id]; !ok {
			dels = append(dels, id)
		}
	}
	slices.Sort(puts)
	slices.Sort(dels)
	return puts, dels
}

// put reports that room id's desired record (enc) was written at now.
func (t *roomTable) put(id uint32, enc []byte, now time.Time) {
	t.written[id] = writtenRoom{enc: enc, at: now}
}

// deleted reports that room id's record was deleted.
func (t *roomTable) deleted(id uint32) { delete(t.written, id) }

// forget drops what the table believes the bucket holds (after a
// reconnect the bucket may have lost it, or expired it): every desired
// room is written again.
func (t *roomTable) forget() { clear(t.written) }

// found reports a key of this node in the bucket (listed after a
// reconnect or restart): unless the room is desired, it is deleted.
func (t *roomTable) found(id uint32) {
	if _, ok := t.written[id]; !ok {
		if _, want := t.desired[id]; !want {
			t.written[id] = writtenRoom{}
		}
	}
}

// writtenIDs lists the rooms the bucket holds for this node (to delete
// them on leaving).
func (t *roomTable) writtenIDs() []uint32 {
	ids := make([]uint32, 0, len(t.written))
	for id := range t.written {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
