package cluster

import (
	"bytes"
	"cmp"
	"slices"
	"time"
)

// The directory cache: what the watch of the directory bucket has seen,
// without I/O (the watch loop feeds it entries and the time; tests feed it
// directly). Every record expires locally TTL after it was written unless
// a newer write refreshes it, whether or not the bucket's expiry marker
// arrives: a node cut off from NATS stops showing rooms it can no longer
// vouch for, and a stalled watch cannot keep a dead node's rooms alive.

// kvEntry is one change the watch delivered.
type kvEntry struct {
	key      string
	value    []byte
	deleted  bool      // a delete or purge marker (including the bucket's expiry)
	created  time.Time // when the server stored it
	revision uint64
}

type nodeEntry struct {
	rec     nodeRecord
	seen    time.Time // when it was last written
	expires time.Time
	gen     uint64
}

type roomEntry struct {
	room    Room
	value   []byte // the record as written: a refresh writes the same bytes
	expires time.Time
	gen     uint64
}

// dirCache is owned by the watch loop.
type dirCache struct {
	self  uint8
	ttl   time.Duration
	nodes map[uint8]*nodeEntry
	rooms map[uint64]*roomEntry // by roomRef
	gen   uint64                // the replay generation: entries not seen in the last replay are gone
	// What changed since the last snapshot: rooms (their records, or which
	// nodes are live), or only node records (a node's load, its refresh).
	dirtyRooms, dirtyNodes bool
	last                   *dirSnapshot
}

func (c *dirCache) dirty() bool { return c.dirtyRooms || c.dirtyNodes }

func newDirCache(self uint8, ttl time.Duration) *dirCache {
	return &dirCache{self: self, ttl: ttl, nodes: map[uint8]*nodeEntry{}, rooms: map[uint64]*roomEntry{}}
}

func roomRef(node uint8, id uint32) uint64 { return uint64(node)<<32 | uint64(id) }

// expiry is when a record written at created expires, on this node's clock:
// TTL after the write, or after now if the writer's clock is ahead.
func (c *dirCache) expiry(created, now time.Time) time.Time {
	if created.IsZero() || created.After(now) {
		created = now
	}
	return created.Add(c.ttl)
}

// apply takes one entry; node arrivals and departures are appended to ev.
// It returns an error for a record it cannot read (which it ignores).
func (c *dirCache) apply(e kvEntry, now time.Time, ev *[]Message) error {
	if id, ok := parseNodeKey(e.key); ok {
		return c.applyNode(id, e, now, ev)
	}
	if node, id, ok := parseRoomKey(e.key); ok {
		ref := roomRef(node, id)
		if e.deleted {
			if _, had := c.rooms[ref]; had {
				delete(c.rooms, ref)
				c.dirtyRooms = true
			}
			return nil
		}
		if old := c.rooms[ref]; old != nil && bytes.Equal(old.value, e.value) {
			old.expires, old.gen = c.expiry(e.created, now), c.gen // a refresh: readers see no change
			return nil
		}
		r, err := decodeRoom(e.value)
		if err != nil {
			return err
		}
		r.Node, r.ID = node, id // the key is authoritative
		c.rooms[ref] = &roomEntry{room: r, value: e.value, expires: c.expiry(e.created, now), gen: c.gen}
		c.dirtyRooms = true
	}
	return nil // a key of a later version: not ours to read
}

func (c *dirCache) applyNode(id uint8, e kvEntry, now time.Time, ev *[]Message) error {
	old := c.nodes[id]
	if e.deleted {
		if old != nil {
			c.dropNode(id, ev)
		}
		return nil
	}
	rec, err := decodeNodeRecord(e.value)
	if err != nil {
		return err
	}
	rec.ID = id
	seen := e.created
	if seen.IsZero() || seen.After(now) {
		seen = now
	}
	c.nodes[id] = &nodeEntry{rec: rec, seen: seen, expires: c.expiry(e.created, now), gen: c.gen}
	c.dirtyNodes = true
	if (old == nil || old.rec.Incarnation != rec.Incarnation) && id != c.self {
		c.dirtyRooms = true // its rooms show, or the old run's go
		*ev = append(*ev, &NodeChanged{Node: nodeInfo(&rec, seen)})
	}
	return nil
}

func (c *dirCache) dropNode(id uint8, ev *[]Message) {
	old := c.nodes[id]
	delete(c.nodes, id)
	c.dirtyNodes, c.dirtyRooms = true, true
	if id != c.self {
		*ev = append(*ev, &NodeChanged{Node: nodeInfo(&old.rec, old.seen), Gone: true})
	}
}

// expire drops the records whose time is up.
func (c *dirCache) expire(now time.Time, ev *[]Message) {
	for id, e := range c.nodes {
		if !now.Before(e.expires) {
			c.dropNode(id, ev)
		}
	}
	for ref, e := range c.rooms {
		if !now.Before(e.expires) {
			delete(c.rooms, ref)
			c.dirtyRooms = true
		}
	}
}

// beginReplay starts a new watch: the entries it replays are the bucket's
// current contents; endReplay then drops what was not among them.
func (c *dirCache) beginReplay() { c.gen++ }

func (c *dirCache) endReplay(ev *[]Message) {
	for id, e := range c.nodes {
		if e.gen != c.gen {
			c.dropNode(id, ev)
		}
	}
	for ref, e := range c.rooms {
		if e.gen != c.gen {
			delete(c.rooms, ref)
			c.dirtyRooms = true
		}
	}
}

// dirSnapshot is an immutable view of the directory for readers: every
// other live node and its rooms. Readers share it: nothing in it may be
// modified.
type dirSnapshot struct {
	rooms  []Room // by node, then id
	byCode map[string]int
	nodes  []NodeInfo // other live nodes, by id
}

var emptySnapshot = &dirSnapshot{}

// roomByID finds a room by binary search: rooms are ordered by id within
// a node, and a room's node is its id's top byte.
func (s *dirSnapshot) roomByID(id uint32) (Room, bool) {
	i, ok := slices.BinarySearchFunc(s.rooms, id, func(r Room, id uint32) int {
		return cmp.Or(cmp.Compare(r.Node, NodeOf(id)), cmp.Compare(r.ID, id))
	})
	if !ok {
		return Room{}, false
	}
	return s.rooms[i], true
}

// snapshot builds the view of the live nodes other than this one. When
// only node records changed, the rooms of the last snapshot are reused.
func (c *dirCache) snapshot() *dirSnapshot {
	s := &dirSnapshot{}
	for id, e := range c.nodes {
		if id != c.self {
			s.nodes = append(s.nodes, nodeInfo(&e.rec, e.seen))
		}
	}
	slices.SortFunc(s.nodes, func(a, b NodeInfo) int { return cmp.Compare(a.ID, b.ID) })
	if !c.dirtyRooms && c.last != nil {
		s.rooms, s.byCode = c.last.rooms, c.last.byCode
	} else {
		c.buildRooms(s)
	}
	c.dirtyRooms, c.dirtyNodes, c.last = false, false, s
	return s
}

func (c *dirCache) buildRooms(s *dirSnapshot) {
	refs := make([]uint64, 0, len(c.rooms))
	for ref, e := range c.rooms {
		if n := e.room.Node; n != c.self && c.nodes[n] != nil {
			refs = append(refs, ref)
		}
	}
	slices.Sort(refs) // by node, then id: sorting keys, not rooms, is several times faster
	s.rooms = make([]Room, len(refs))
	s.byCode = make(map[string]int, len(refs))
	for i, ref := range refs {
		r := c.rooms[ref].room
		s.rooms[i] = r
		if _, dup := s.byCode[r.Code]; !dup { // codes are per node: the lowest node's wins
			s.byCode[r.Code] = i
		}
	}
}

func nodeInfo(r *nodeRecord, seen time.Time) NodeInfo {
	return NodeInfo{ID: r.ID, PublicKCP: r.PublicKCP, PublicWS: r.PublicWS, Players: r.Players, Rooms: r.NumRoom, Seen: seen}
}
