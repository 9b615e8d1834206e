package cluster

import (
	"cmp"
	"slices"
)

// PublishRooms gives the node this relay's current rooms, the full set;
// the node writes what changed to the directory (at most four times a
// second, and every TTL/3 to keep the records alive). It does not block.
// The node keeps rooms: the caller must not modify the slice or its
// rooms' Props afterwards (build a new one each time).
func (n *Node) PublishRooms(rooms []Room) {
	n.mu.Lock()
	n.rooms, n.roomsDirty = rooms, true
	n.mu.Unlock()
	signal(n.wakeRun)
}

// ReportLoad gives the node this relay's load, for its node record (other
// nodes put new rooms on the least loaded node). It does not block.
func (n *Node) ReportLoad(players, rooms int) {
	n.mu.Lock()
	changed := players != n.players || rooms != n.numRooms
	n.players, n.numRooms = players, rooms
	n.loadDirty = n.loadDirty || changed
	n.mu.Unlock()
	if changed {
		signal(n.wakeRun)
	}
}

// Rooms lists every other live node's rooms, by node and id, from the
// node's cache (no I/O). The slice and the rooms are shared: do not
// modify them.
func (n *Node) Rooms() []Room { return n.snap.Load().rooms }

// RoomByCode finds another live node's room by its join code (as the
// relay makes codes: upper case). Codes are made per node, so two nodes
// may have the same one: the lowest node's room is returned (a relay that
// checks RoomByCode when it makes a code avoids this).
func (n *Node) RoomByCode(code string) (Room, bool) {
	s := n.snap.Load()
	if i, ok := s.byCode[code]; ok {
		return s.rooms[i], true
	}
	return Room{}, false
}

// RoomByID finds another live node's room by its global id.
func (n *Node) RoomByID(id uint32) (Room, bool) {
	return n.snap.Load().roomByID(id)
}

// Nodes lists the live nodes, this one included, by id.
func (n *Node) Nodes() []NodeInfo {
	s := n.snap.Load()
	n.mu.Lock()
	self := NodeInfo{ID: n.id, PublicKCP: n.cfg.PublicKCP, PublicWS: n.cfg.PublicWS, Players: n.players, Rooms: n.numRooms, Seen: n.cfg.now()}
	n.mu.Unlock()
	out := make([]NodeInfo, 0, len(s.nodes)+1)
	out = append(out, s.nodes...)
	out = append(out, self)
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// LeastLoaded is the live node with the fewest players (then rooms, then
// the lowest id), this one included: where a new room should go.
func (n *Node) LeastLoaded() NodeInfo {
	nodes := n.Nodes()
	return slices.MinFunc(nodes, func(a, b NodeInfo) int {
		return cmp.Or(cmp.Compare(a.Players, b.Players), cmp.Compare(a.Rooms, b.Rooms), cmp.Compare(a.ID, b.ID))
	})
}

// live reports whether node is another live node.
func (n *Node) live(node uint8) bool {
	for _, x := range n.snap.Load().nodes {
		if x.ID == node {
			return true
		}
	}
	return false
}

// snapshotChanged is closed at the next snapshot (tests wait on it).
func (n *Node) snapshotChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.snapWait
}
