//go:build linux

package main

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// walkFrame reads a per-tick frame in place, for bots of either transport:
// [40, tick, server_time_ms, room, events, chat], room =
// [room_id, full, master, locked, props, leaves, joins, player_props, states].
// It calls state for each entry of states, with the player id and the
// value's encoded bytes (valid during the call); inRoom is false for a
// frame without a room.
func walkFrame(body []byte, state func(id uint32, v []byte)) (tick uint64, inRoom bool, err error) {
	r := codec.NewReader(body)
	_, err = r.ArrayLen(64)
	if err == nil {
		_, err = r.Uint(math.MaxUint8)
	}
	if err == nil {
		tick, err = r.Uint(math.MaxInt64)
	}
	if err == nil {
		_, err = r.Int()
	}
	if err != nil || r.IsNil() {
		return tick, false, err
	}
	n, err := r.ArrayLen(64)
	if err == nil && n < 9 {
		err = errShortRoom
	}
	if err == nil {
		_, err = r.Uint(math.MaxUint32) // room id
	}
	if err == nil {
		_, err = r.Bool() // full
	}
	if err == nil {
		_, err = r.Uint(math.MaxUint32) // master
	}
	if err == nil {
		_, err = r.Bool() // locked
	}
	for i := 0; i < 4 && err == nil; i++ { // props, leaves, joins, player_props
		err = r.Skip()
	}
	var states int
	if err == nil {
		states, err = r.ArrayLen(math.MaxUint16)
	}
	if err != nil {
		return tick, true, err
	}
	for i := 0; i < states; i++ {
		en, err := r.ArrayLen(16)
		if err == nil && en < 2 {
			err = errShortRoom
		}
		var id uint64
		if err == nil {
			id, err = r.Uint(math.MaxUint32)
		}
		var v []byte
		if err == nil {
			v, err = r.Raw(maxServerFrame)
		}
		for j := 2; j < en && err == nil; j++ {
			err = r.Skip()
		}
		if err != nil {
			return tick, true, err
		}
		state(uint32(id), v)
	}
	return tick, true, nil
}

type frameError string

func (e frameError) Error() string { return string(e) }

const errShortRoom = frameError("frame: a room or state entry with too few fields")

// stamp is the send time written into a state: the Unix time in ns of
// the bots' monotonic clock, its lowest bit replaced by the sender's
// transport, so a receiver can tell KCP->WebSocket from WebSocket->KCP
// (one nanosecond of error).
func stamp(k kind) uint64 { return uint64(wallEpoch+mono())&^1 | uint64(k) }

// stampOf reads the send time from a bench state value (bin8 or bin16).
func stampOf(v []byte) (int64, bool) {
	switch {
	case len(v) >= 10 && v[0] == 0xc4:
		return int64(binary.BigEndian.Uint64(v[2:])), true
	case len(v) >= 11 && v[0] == 0xc5:
		return int64(binary.BigEndian.Uint64(v[3:])), true
	}
	return 0, false
}

// stateEntry counts one state entry of a frame received by a bot of
// transport k at recvUnix; own is the bot's own state echoed back (a
// round trip, not what the latency measures).
func (st *workerStats) stateEntry(k kind, own bool, v []byte, recvUnix int64, measuring bool) {
	st.c.StatesRecv++
	if own {
		return
	}
	sent, ok := stampOf(v)
	if !ok {
		return
	}
	d := time.Duration(recvUnix - sent)
	st.latAll.record(d)
	st.latRecent.record(d)
	if measuring {
		st.lat.record(d)
		st.latFrom[sent&1].record(d)
	}
}
