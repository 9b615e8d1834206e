package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// What the relay's tick calls: the directory reads (on list and join
// requests) and the hand-off of its rooms. None may allocate or block.

func benchNode(b *testing.B, rooms int) *Node {
	c := newDirCache(1, time.Minute)
	var ev []Message
	for node := uint8(2); node <= 4; node++ {
		_ = c.apply(nodeEntryFor(node, 1, t0), t0, &ev)
		for i := range rooms / 3 {
			r := Room{ID: uint32(node)<<24 | uint32(i), Code: fmt.Sprintf("C%05d", int(node)*100000+i), Mode: "dm",
				Props: map[string][]byte{"map": codec.AppendStr(nil, "dust")}, Players: 3, MaxPlayers: 8, Public: true}
			_ = c.apply(kvEntry{key: roomKey(node, r.ID), value: appendRoom(nil, &r), created: t0}, t0, &ev)
		}
	}
	n := &Node{wakeRun: make(chan struct{}, 1)}
	n.snap.Store(c.snapshot())
	return n
}

func BenchmarkRoomByCode(b *testing.B) {
	n := benchNode(b, 9000)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := n.RoomByCode("C300017"); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkRoomByID(b *testing.B) {
	n := benchNode(b, 9000)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := n.RoomByID(3<<24 | 17); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkRoomsList(b *testing.B) {
	n := benchNode(b, 9000)
	b.ReportAllocs()
	for b.Loop() {
		players := 0
		for _, r := range n.Rooms() {
			if r.Public && r.Mode == "dm" {
				players += r.Players
			}
		}
		if players == 0 {
			b.Fatal("no rooms")
		}
	}
}

func BenchmarkPublishRooms(b *testing.B) {
	n := benchNode(b, 0)
	rooms := make([]Room, 3000)
	b.ReportAllocs()
	for b.Loop() {
		n.PublishRooms(rooms)
		n.ReportLoad(10, len(rooms))
	}
}

// The watch loop's cost of a snapshot, rebuilt after each batch of changes
// (at most every 50 ms under a stream of them).
func BenchmarkSnapshot9000Rooms(b *testing.B) {
	c := newDirCache(1, time.Minute)
	var ev []Message
	for node := uint8(2); node <= 4; node++ {
		_ = c.apply(nodeEntryFor(node, 1, t0), t0, &ev)
		for i := range 3000 {
			r := Room{ID: uint32(node)<<24 | uint32(i), Code: fmt.Sprintf("C%05d", int(node)*100000+i)}
			_ = c.apply(kvEntry{key: roomKey(node, r.ID), value: appendRoom(nil, &r), created: t0}, t0, &ev)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c.dirtyRooms = true // a room changed
		c.snapshot()
	}
}
