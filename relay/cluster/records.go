package cluster

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tickrelay/tickrelay/codec"
)

// The directory bucket's keys: "node.<id>" for node records,
// "room.<node>.<id>" for rooms. The leader bucket holds one key,
// "matchmaker", naming the matchmaker's leader. The bans bucket's keys are
// ban ids.
const (
	nodePrefix = "node."
	roomPrefix = "room."
	leaderKey  = "matchmaker"
)

func nodeKey(id uint8) string { return nodePrefix + strconv.Itoa(int(id)) }

func roomKey(node uint8, id uint32) string {
	return roomPrefix + strconv.Itoa(int(node)) + "." + strconv.FormatUint(uint64(id), 10)
}

// nodeRecord is what a node says of itself in the directory.
type nodeRecord struct {
	ID uint8
	// Incarnation is random per Start: a new one tells the others that
	// the node restarted (its rooms and players are new).
	Incarnation      uint64
	PublicKCP        string
	PublicWS         string
	Players, NumRoom int
}

func (r *nodeRecord) append(b []byte) []byte {
	b = codec.AppendArrayLen(b, 7)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendUint(b, uint64(r.ID))
	b = codec.AppendUint(b, r.Incarnation)
	b = codec.AppendStr(b, r.PublicKCP)
	b = codec.AppendStr(b, r.PublicWS)
	b = codec.AppendInt(b, int64(r.Players))
	return codec.AppendInt(b, int64(r.NumRoom))
}

func decodeNodeRecord(b []byte) (nodeRecord, error) {
	var r nodeRecord
	d := newDec(b)
	n := d.version(6)
	r.ID = uint8(d.uint(math.MaxUint8))
	r.Incarnation = d.uint(math.MaxInt64)
	r.PublicKCP = d.str(maxStr)
	r.PublicWS = d.str(maxStr)
	r.Players = d.count(math.MaxInt32)
	r.NumRoom = d.count(math.MaxInt32)
	d.rest(n, 6)
	if d.err == nil && r.ID == 0 {
		d.fail(fmt.Errorf("node 0"))
	}
	return r, d.done("node record")
}

func appendRoom(b []byte, r *Room) []byte {
	b = codec.AppendArrayLen(b, 10)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendUint(b, uint64(r.Node))
	b = codec.AppendUint(b, uint64(r.ID))
	b = codec.AppendStr(b, r.Code)
	b = codec.AppendStr(b, r.Mode)
	b = appendProps(b, r.Props)
	b = codec.AppendInt(b, int64(r.Players))
	b = codec.AppendInt(b, int64(r.MaxPlayers))
	b = codec.AppendBool(b, r.Public)
	return codec.AppendBool(b, r.Locked)
}

func decodeRoom(b []byte) (Room, error) {
	var r Room
	d := newDec(b)
	n := d.version(9)
	r.Node = uint8(d.uint(math.MaxUint8))
	r.ID = uint32(d.uint(math.MaxUint32))
	r.Code = d.str(maxStr)
	r.Mode = d.str(maxStr)
	r.Props = d.props()
	r.Players = d.count(math.MaxInt32)
	r.MaxPlayers = d.count(math.MaxInt32)
	r.Public = d.bool()
	r.Locked = d.bool()
	d.rest(n, 9)
	return r, d.done("room record")
}

// checkRoom reports a room whose record the other nodes would refuse:
// fields over the limits they read with.
func checkRoom(r *Room) error {
	if len(r.Code) > maxStr || len(r.Mode) > maxStr || len(r.Props) > maxProps || r.Players < 0 || r.MaxPlayers < 0 {
		return fmt.Errorf("room %x: a field is over its limit", r.ID)
	}
	for k, v := range r.Props {
		if len(k) > maxPropKey || len(v) > maxPropVal {
			return fmt.Errorf("room %x: property %q is over its limit", r.ID, k)
		}
	}
	return nil
}

// leaderRecord names the matchmaker's leader. Term is the revision of the
// write that took the key (0 in that write itself: readers then take the
// entry's revision), so each new leadership has a greater one.
type leaderRecord struct {
	Node uint8
	Term uint64
}

func (r *leaderRecord) append(b []byte) []byte {
	b = codec.AppendArrayLen(b, 3)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendUint(b, uint64(r.Node))
	return codec.AppendUint(b, r.Term)
}

func decodeLeader(b []byte) (leaderRecord, error) {
	var r leaderRecord
	d := newDec(b)
	n := d.version(2)
	r.Node = uint8(d.uint(math.MaxUint8))
	r.Term = d.uint(math.MaxInt64)
	d.rest(n, 2)
	return r, d.done("leader record")
}

func appendBan(b []byte, x *Ban) []byte {
	b = codec.AppendArrayLen(b, 9)
	b = codec.AppendUint(b, wireVersion)
	b = codec.AppendStr(b, x.ID)
	b = codec.AppendUint(b, uint64(x.PlayerID))
	b = codec.AppendStr(b, x.UserID)
	b = codec.AppendStr(b, x.Address)
	b = appendTime(b, x.Until)
	b = codec.AppendStr(b, x.Reason)
	b = appendTime(b, x.Created)
	return codec.AppendUint(b, uint64(x.Node))
}

func decodeBan(b []byte) (Ban, error) {
	var x Ban
	d := newDec(b)
	n := d.version(8)
	x.ID = d.str(maxStr)
	x.PlayerID = uint32(d.uint(math.MaxUint32))
	x.UserID = d.str(maxStr)
	x.Address = d.str(maxStr)
	x.Until = d.time()
	x.Reason = d.str(maxText)
	x.Created = d.time()
	x.Node = uint8(d.uint(math.MaxUint8))
	d.rest(n, 8)
	return x, d.done("ban")
}

// parseRoomKey splits "room.<node>.<id>".
func parseRoomKey(key string) (node uint8, id uint32, ok bool) {
	rest, ok := strings.CutPrefix(key, roomPrefix)
	if !ok {
		return 0, 0, false
	}
	ns, is, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	nv, err1 := strconv.ParseUint(ns, 10, 8)
	iv, err2 := strconv.ParseUint(is, 10, 32)
	if err1 != nil || err2 != nil || nv == 0 {
		return 0, 0, false
	}
	return uint8(nv), uint32(iv), true
}

// parseNodeKey parses "node.<id>".
func parseNodeKey(key string) (uint8, bool) {
	rest, ok := strings.CutPrefix(key, nodePrefix)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(rest, 10, 8)
	if err != nil || v == 0 {
		return 0, false
	}
	return uint8(v), true
}
