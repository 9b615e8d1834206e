package cluster

import (
	"testing"
	"time"
)

func nodeEntryFor(id uint8, inc uint64, created time.Time) kvEntry {
	r := nodeRecord{ID: id, Incarnation: inc, PublicKCP: "127.0.0.1:7777", Players: int(id) * 10}
	return kvEntry{key: nodeKey(id), value: r.append(nil), created: created}
}

func roomEntryFor(node uint8, id uint32, code string, created time.Time) kvEntry {
	r := Room{Node: node, ID: id, Code: code, Mode: "dm", Players: 1, MaxPlayers: 4, Public: true}
	return kvEntry{key: roomKey(node, id), value: appendRoom(nil, &r), created: created}
}

func mustApply(t *testing.T, c *dirCache, e kvEntry, now time.Time, ev *[]Message) {
	t.Helper()
	if err := c.apply(e, now, ev); err != nil {
		t.Fatal(err)
	}
}

func TestDirCacheShowsLiveNodesRooms(t *testing.T) {
	const ttl = 10 * time.Second
	c := newDirCache(1, ttl)
	var ev []Message
	now := t0
	mustApply(t, c, nodeEntryFor(1, 1, now), now, &ev) // this node: not listed
	mustApply(t, c, roomEntryFor(1, 0x01000001, "SELF01", now), now, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000002, "BBBBBB", now), now, &ev) // before its node's record
	mustApply(t, c, nodeEntryFor(2, 7, now), now, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", now), now, &ev)
	mustApply(t, c, roomEntryFor(3, 0x03000001, "AAAAAA", now), now, &ev) // node 3 unknown: hidden
	if len(ev) != 1 || ev[0].(*NodeChanged).Node.ID != 2 || ev[0].(*NodeChanged).Gone {
		t.Fatalf("events %+v, want node 2 joined", ev)
	}
	s := c.snapshot()
	if len(s.rooms) != 2 || s.rooms[0].ID != 0x02000001 || s.rooms[1].ID != 0x02000002 {
		t.Fatalf("rooms %+v", s.rooms)
	}
	if len(s.nodes) != 1 || s.nodes[0].ID != 2 || s.nodes[0].Players != 20 {
		t.Fatalf("nodes %+v", s.nodes)
	}
	// Node 3 appears: its room is listed, and the code both have resolves
	// to the lowest node's room.
	mustApply(t, c, nodeEntryFor(3, 1, now), now, &ev)
	s = c.snapshot()
	if len(s.rooms) != 3 || s.rooms[s.byCode["AAAAAA"]].Node != 2 || func() bool { r, ok := s.roomByID(0x03000001); return !ok || r.Node != 3 }() {
		t.Fatalf("rooms %+v", s.rooms)
	}
	// A deleted node record hides its rooms at once.
	ev = ev[:0]
	mustApply(t, c, kvEntry{key: nodeKey(2), deleted: true}, now, &ev)
	if s = c.snapshot(); len(s.rooms) != 1 || s.rooms[0].Node != 3 {
		t.Fatalf("after node 2 left: %+v", s.rooms)
	}
	if len(ev) != 1 || !ev[0].(*NodeChanged).Gone {
		t.Fatalf("events %+v, want node 2 gone", ev)
	}
	// A record that does not decode is refused and changes nothing.
	if err := c.apply(kvEntry{key: roomKey(3, 9), value: []byte{0xc1}}, now, &ev); err == nil {
		t.Fatal("a corrupt room was accepted")
	}
	if len(c.rooms) != 4 {
		t.Fatalf("%d rooms cached", len(c.rooms))
	}
}

func TestDirCacheExpiresWithoutRefresh(t *testing.T) {
	const ttl = 10 * time.Second
	c := newDirCache(1, ttl)
	var ev []Message
	mustApply(t, c, nodeEntryFor(2, 1, t0), t0, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", t0), t0, &ev)
	// Refreshed at t0+4s: both live until t0+14s.
	at := t0.Add(4 * time.Second)
	mustApply(t, c, nodeEntryFor(2, 1, at), at, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", at), at, &ev)
	c.expire(t0.Add(ttl), &ev)
	if len(c.snapshot().rooms) != 1 {
		t.Fatal("a refreshed room expired")
	}
	ev = ev[:0]
	c.expire(at.Add(ttl), &ev)
	if len(c.nodes)+len(c.rooms) != 0 || len(c.snapshot().rooms) != 0 {
		t.Fatalf("not expired: %d nodes, %d rooms", len(c.nodes), len(c.rooms))
	}
	if len(ev) != 1 || !ev[0].(*NodeChanged).Gone {
		t.Fatalf("events %+v", ev)
	}
	// A record replayed long after it was written expires TTL after its
	// write, not after it arrived; a writer's clock ahead of this node's
	// counts from arrival.
	now := t0.Add(time.Hour)
	mustApply(t, c, nodeEntryFor(2, 1, now.Add(-9*time.Second)), now, &ev)
	mustApply(t, c, nodeEntryFor(3, 1, now.Add(time.Minute)), now, &ev)
	c.expire(now.Add(time.Second), &ev)
	if c.nodes[2] != nil || c.nodes[3] == nil {
		t.Fatalf("nodes %v", c.nodes)
	}
}

func TestDirCacheReplayDropsWhatIsGone(t *testing.T) {
	c := newDirCache(1, time.Minute)
	var ev []Message
	mustApply(t, c, nodeEntryFor(2, 1, t0), t0, &ev)
	mustApply(t, c, nodeEntryFor(3, 1, t0), t0, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", t0), t0, &ev)
	mustApply(t, c, roomEntryFor(3, 0x03000001, "BBBBBB", t0), t0, &ev)
	// A new watch replays the bucket: node 3 and its room are gone from it
	// (deleted while this node was cut off), node 2 restarted.
	c.beginReplay()
	ev = ev[:0]
	mustApply(t, c, nodeEntryFor(2, 2, t0), t0, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", t0), t0, &ev)
	c.endReplay(&ev)
	if c.nodes[3] != nil || len(c.rooms) != 1 {
		t.Fatalf("after replay: nodes %v rooms %d", c.nodes, len(c.rooms))
	}
	if len(ev) != 2 || ev[0].(*NodeChanged).Node.ID != 2 || ev[0].(*NodeChanged).Gone || ev[1].(*NodeChanged).Node.ID != 3 || !ev[1].(*NodeChanged).Gone {
		t.Fatalf("events %+v: want node 2 restarted, node 3 gone", ev)
	}
}

// A refresh (the same record written again) or a load change does not
// rebuild the rooms of the snapshot.
func TestDirCacheRefreshKeepsRooms(t *testing.T) {
	c := newDirCache(1, time.Minute)
	var ev []Message
	mustApply(t, c, nodeEntryFor(2, 1, t0), t0, &ev)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", t0), t0, &ev)
	s1 := c.snapshot()
	at := t0.Add(time.Second)
	mustApply(t, c, roomEntryFor(2, 0x02000001, "AAAAAA", at), at, &ev)
	if c.dirty() {
		t.Fatal("a refresh made the cache dirty")
	}
	if c.rooms[roomRef(2, 0x02000001)].expires != at.Add(time.Minute) {
		t.Fatal("a refresh did not extend the room's life")
	}
	r := nodeRecord{ID: 2, Incarnation: 1, Players: 99}
	mustApply(t, c, kvEntry{key: nodeKey(2), value: r.append(nil), created: at}, at, &ev)
	s2 := c.snapshot()
	if &s1.rooms[0] != &s2.rooms[0] || s2.nodes[0].Players != 99 {
		t.Fatal("a load change rebuilt the rooms, or was not seen")
	}
	if _, ok := s2.roomByID(0x02000001); !ok {
		t.Fatal("room not found by id")
	}
	if _, ok := s2.roomByID(0x02000002); ok {
		t.Fatal("a room that does not exist was found")
	}
}

// The leader view: the term is the taking write's revision, then the
// record's; a delete, the TTL or a replay without the key forgets it.
func TestLeaderView(t *testing.T) {
	v := &leaderView{ttl: time.Minute}
	take := kvEntry{key: leaderKey, value: (&leaderRecord{Node: 3}).append(nil), revision: 41, created: t0}
	if err := v.apply(take, t0); err != nil {
		t.Fatal(err)
	}
	if n, term := v.leader(); n != 3 || term != 41 {
		t.Fatalf("leader %d term %d, want 3 and the taking write's revision", n, term)
	}
	at := t0.Add(20 * time.Second)
	renew := kvEntry{key: leaderKey, value: (&leaderRecord{Node: 3, Term: 41}).append(nil), revision: 57, created: at}
	if err := v.apply(renew, at); err != nil {
		t.Fatal(err)
	}
	if n, term := v.leader(); n != 3 || term != 41 {
		t.Fatalf("after a renewal: leader %d term %d, want 3 and term 41", n, term)
	}
	if err := v.apply(kvEntry{key: "other", value: []byte{0xc1}}, at); err != nil {
		t.Fatalf("another key: %v", err)
	}
	if err := v.apply(kvEntry{key: leaderKey, value: []byte{0xc1}}, at); err == nil {
		t.Fatal("an unreadable record was taken")
	}
	v.expire(t0.Add(time.Minute)) // the renewal keeps it
	if n, _ := v.leader(); n != 3 {
		t.Fatal("a renewed key expired from its first write")
	}
	v.expire(at.Add(time.Minute))
	if n, _ := v.leader(); n != 0 {
		t.Fatal("a key not renewed within TTL did not expire")
	}

	_ = v.apply(take, t0)
	_ = v.apply(kvEntry{key: leaderKey, deleted: true, revision: 42}, t0)
	if n, _ := v.leader(); n != 0 {
		t.Fatal("a deleted key still names a leader")
	}

	_ = v.apply(take, t0)
	v.beginReplay()
	v.endReplay()
	if n, _ := v.leader(); n != 0 {
		t.Fatal("a key the replay did not deliver still names a leader")
	}
	v.beginReplay()
	_ = v.apply(take, t0)
	v.endReplay()
	if n, _ := v.leader(); n != 3 {
		t.Fatal("a key the replay delivered was forgotten")
	}
}
