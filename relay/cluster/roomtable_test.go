package cluster

import (
	"slices"
	"testing"
	"time"
)

func TestRoomTablePlans(t *testing.T) {
	const refresh = 3 * time.Second
	tb := newRoomTable(1)
	rooms := []Room{{ID: 0x01000001, Code: "A"}, {ID: 0x01000002, Code: "B", Node: 9}}
	tb.setDesired(rooms)
	puts, dels := tb.plan(t0, refresh)
	if !slices.Equal(puts, []uint32{0x01000001, 0x01000002}) || len(dels) != 0 {
		t.Fatalf("first plan: puts %x dels %x", puts, dels)
	}
	if r, _ := decodeRoom(tb.desired[0x01000002]); r.Node != 1 {
		t.Fatalf("recorded as node %d's", r.Node)
	}
	// Only the first write went through: the second is planned again.
	tb.put(0x01000001, tb.desired[0x01000001], t0)
	if puts, _ = tb.plan(t0, refresh); !slices.Equal(puts, []uint32{0x01000002}) {
		t.Fatalf("retry: puts %x", puts)
	}
	tb.put(0x01000002, tb.desired[0x01000002], t0)
	if puts, dels = tb.plan(t0.Add(time.Second), refresh); len(puts)+len(dels) != 0 {
		t.Fatalf("nothing changed: puts %x dels %x", puts, dels)
	}
	// A change, an unchanged copy, a removal.
	tb.setDesired([]Room{{ID: 0x01000001, Code: "A", Players: 2}})
	if puts, dels = tb.plan(t0.Add(time.Second), refresh); !slices.Equal(puts, []uint32{0x01000001}) || !slices.Equal(dels, []uint32{0x01000002}) {
		t.Fatalf("change: puts %x dels %x", puts, dels)
	}
	tb.put(0x01000001, tb.desired[0x01000001], t0.Add(time.Second))
	tb.deleted(0x01000002)
	// Unchanged records are written again before their TTL runs out.
	if puts, _ = tb.plan(t0.Add(refresh), refresh); len(puts) != 0 {
		t.Fatalf("refreshed early: %x", puts)
	}
	if puts, _ = tb.plan(t0.Add(time.Second+refresh), refresh); !slices.Equal(puts, []uint32{0x01000001}) {
		t.Fatalf("refresh: %x", puts)
	}
	// A room the other nodes would refuse is left out.
	if refused := tb.setDesired([]Room{{ID: 0x01000001, Code: "A", Players: 2}, {ID: 0x01000003, Mode: string(make([]byte, maxStr+1))}}); !slices.Equal(refused, []uint32{0x01000003}) || len(tb.desired) != 1 {
		t.Fatalf("refused %x, desired %d", refused, len(tb.desired))
	}
	// After a reconnect: everything is written again, and keys left in the
	// bucket that the node no longer has are deleted.
	tb.forget()
	tb.found(0x01000001)
	tb.found(0x010000ff)
	puts, dels = tb.plan(t0.Add(2*time.Second), refresh)
	if !slices.Equal(puts, []uint32{0x01000001}) || !slices.Equal(dels, []uint32{0x010000ff}) {
		t.Fatalf("after forget: puts %x dels %x", puts, dels)
	}
	if ids := tb.writtenIDs(); !slices.Equal(ids, []uint32{0x010000ff}) {
		t.Fatalf("written %x", ids)
	}
}
