package relay

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/codec"
)

// fakeLink is the transport under a hub player in these tests. It records
// a copy of every buffer handed to Send; busy is set by the test.
type fakeLink struct {
	sent      [][]byte // copies of the buffers handed to Send, not yet read
	nSent     int      // Send calls in total
	busy      bool
	closes    int // Close calls
	sendBusy  int // Send calls made while busy (a contract violation)
	discard   bool
	lastBytes []byte // the last buffer, when discard is set (reused: no allocation)
	// silent makes Heard report heardAt: the peer sent nothing since.
	// Otherwise the peer is always heard from (it keeps acknowledging).
	silent  bool
	heardAt time.Time
}

func (l *fakeLink) Busy() bool { return l.busy }

func (l *fakeLink) Send(b []byte) {
	if l.busy {
		l.sendBusy++
	}
	l.nSent++
	if l.discard {
		l.lastBytes = append(l.lastBytes[:0], b...)
		return
	}
	l.sent = append(l.sent, bytes.Clone(b))
}

func (l *fakeLink) Close() { l.closes++ }

func (l *fakeLink) Heard() int64 {
	if l.silent {
		return l.heardAt.UnixNano()
	}
	return math.MaxInt64
}

// testHubConfig has small limits so that tests reach them quickly.
func testHubConfig() hubConfig {
	return hubConfig{
		limits:            codec.DefaultLimits,
		tickRate:          30,
		maxPlayersPerRoom: 8,
		maxRooms:          100,
		maxListed:         50,
		emptyRoomGrace:    time.Second,
		slowTimeout:       time.Second,
		maxPending:        64 << 10,
		closeLinger:       100 * time.Millisecond,
		handshakeTimeout:  5 * time.Second,
		// Unit tests send many messages at one instant; rate limiting has
		// its own tests.
		rateLimits: RateLimits{Messages: -1, Bytes: -1, Chat: -1},
		log:        zerolog.Nop(),
	}
}

// enc encodes a client message body: the frame AppendClient builds, minus
// its 4-byte length prefix.
func enc(m codec.ClientMsg) []byte {
	return codec.AppendClient(nil, &m)[codec.FrameHeaderSize:]
}

func helloMsg(name string) codec.ClientMsg {
	return codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion, Name: []byte(name)}
}

// Encoded msgpack values for states, payloads and properties.
func mpInt(v int64) []byte  { return codec.AppendInt(nil, v) }
func mpStr(s string) []byte { return codec.AppendStr(nil, s) }

// mpBin is a bin value of exactly n encoded bytes (n >= 2), its content
// filled with fill.
func mpBin(n int, fill byte) []byte {
	var b []byte
	switch {
	case n-2 <= 0xff:
		b = codec.AppendBin(nil, bytes.Repeat([]byte{fill}, n-2))
	default:
		b = codec.AppendBin(nil, bytes.Repeat([]byte{fill}, n-3))
	}
	if len(b) != n {
		panic("mpBin: bad size")
	}
	return b
}

func props(kv ...any) []codec.Prop {
	ps := []codec.Prop{}
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, codec.Prop{Key: []byte(kv[i].(string)), Value: kv[i+1].([]byte)})
	}
	return ps
}

// wantProps builds the decoded form of a property map.
func wantProps(kv ...any) codec.Props {
	p := codec.Props{}
	for i := 0; i < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1].([]byte)
	}
	return p
}

// harness drives a hub tick by tick with injected time.
type harness struct {
	t     testing.TB
	h     *hub
	stats *counters
	n     uint64
	start time.Time
	queue []queued
}

type queued struct {
	p       *player
	body    []byte
	arrived time.Time // zero: the tick's own time
}

// tc is one test client: a hub player and its fake link.
type tc struct {
	x *harness
	p *player
	l *fakeLink
}

const tickPeriod = time.Second / 30

func newHarness(t testing.TB) *harness {
	return newHarnessConfig(t, testHubConfig())
}

func newHarnessConfig(t testing.TB, cfg hubConfig) *harness {
	x := &harness{t: t, stats: &counters{}, start: time.Unix(1_700_000_000, 0)}
	h, err := newHub(cfg, x.stats)
	if err != nil {
		t.Fatal(err)
	}
	x.h = h
	return x
}

// timeOf is the time of tick n.
func (x *harness) timeOf(n uint64) time.Time { return x.start.Add(time.Duration(n) * tickPeriod) }

// tick runs one tick: begin, every queued body in order, end.
func (x *harness) tick() {
	x.n++
	now := x.timeOf(x.n)
	x.h.begin(x.n, now)
	q := x.queue
	x.queue = nil
	for _, m := range q {
		arrived := m.arrived
		if arrived.IsZero() {
			arrived = now
		}
		x.h.handle(m.p, m.body, arrived)
	}
	x.h.end()
}

func (x *harness) ticks(k int) {
	for range k {
		x.tick()
	}
}

// connect registers a transport without saying hello.
func (x *harness) connect() *tc {
	l := &fakeLink{}
	return &tc{x: x, p: x.h.connect(l, netip.MustParseAddrPort("192.0.2.1:4000"), "fake"), l: l}
}

// player connects, says hello, runs a tick and checks the welcome.
func (x *harness) player(name string) *tc {
	x.t.Helper()
	c := x.connect()
	c.send(helloMsg(name))
	x.tick()
	ms := c.recv()
	if len(ms) != 1 || ms[0].Type != codec.TWelcome || ms[0].PlayerID != c.p.id {
		x.t.Fatalf("%s: want one welcome, got %s", name, dump(ms))
	}
	return c
}

func (c *tc) id() uint32 { return c.p.id }

// send queues m for the next tick.
func (c *tc) send(m codec.ClientMsg) { c.sendBody(enc(m)) }

func (c *tc) sendBody(b []byte) { c.x.queue = append(c.x.queue, queued{p: c.p, body: b}) }

// recv decodes every message sent to c since the last recv.
func (c *tc) recv() []*codec.ServerMsg {
	c.x.t.Helper()
	var out []*codec.ServerMsg
	for _, b := range c.l.sent {
		out = append(out, splitMsgs(c.x.t, b)...)
	}
	c.l.sent = nil
	return out
}

// recvBufs returns the raw buffers sent since the last recv.
func (c *tc) recvBufs() [][]byte {
	b := c.l.sent
	c.l.sent = nil
	return b
}

// splitMsgs splits a buffer of length-prefixed frames and decodes each body.
func splitMsgs(t testing.TB, b []byte) []*codec.ServerMsg {
	t.Helper()
	var out []*codec.ServerMsg
	for _, body := range splitBodies(t, b) {
		m, err := codec.DecodeServer(body)
		if err != nil {
			t.Fatalf("decode % x: %v", body, err)
		}
		out = append(out, m)
	}
	return out
}

func splitBodies(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < codec.FrameHeaderSize {
			t.Fatalf("%d stray bytes after the last frame", len(b))
		}
		n := int(binary.BigEndian.Uint32(b))
		if n == 0 || n > len(b)-codec.FrameHeaderSize {
			t.Fatalf("frame of %d bytes declared, %d left", n, len(b)-codec.FrameHeaderSize)
		}
		out = append(out, b[codec.FrameHeaderSize:codec.FrameHeaderSize+n])
		b = b[codec.FrameHeaderSize+n:]
	}
	return out
}

// roomPart returns the encoded room part of a frame body.
func roomPart(t testing.TB, body []byte) []byte {
	t.Helper()
	r := codec.NewReader(body)
	if n, err := r.ArrayLen(16); err != nil || n != codec.FrameFields {
		t.Fatalf("frame header: %d %v", n, err)
	}
	if typ, err := r.Uint(255); err != nil || codec.Type(typ) != codec.TFrame {
		t.Fatalf("not a frame: %d %v", typ, err)
	}
	if _, err := r.Uint(1 << 62); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Int(); err != nil {
		t.Fatal(err)
	}
	start := r.Offset()
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	return body[start:r.Offset()]
}

func dump(ms []*codec.ServerMsg) string {
	var b bytes.Buffer
	for _, m := range ms {
		b.WriteString("\n  ")
		switch m.Type {
		case codec.TFrame:
			f := m.Frame
			b.WriteString("frame tick=" + itoa(f.Tick))
			if f.Room != nil {
				r := f.Room
				b.WriteString(" room=" + itoa(uint64(r.ID)))
				if r.Full {
					b.WriteString(" full")
				}
				b.WriteString(" master=" + itoa(uint64(r.Master)))
				b.WriteString(" leaves=" + itoas(r.Leaves))
				b.WriteString(" joins=[")
				for _, j := range r.Joins {
					b.WriteString(" " + itoa(uint64(j.ID)))
				}
				b.WriteString("] states=[")
				for _, s := range r.States {
					b.WriteString(" " + itoa(uint64(s.ID)))
				}
				b.WriteString("]")
			}
			b.WriteString(" events=" + itoa(uint64(len(f.Events))) + " chat=" + itoa(uint64(len(f.Chat))))
		default:
			b.WriteString("type=" + itoa(uint64(m.Type)) + " code=" + m.Code.String() + " msg=" + m.Message)
		}
	}
	return b.String()
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var d []byte
	for v > 0 {
		d = append([]byte{byte('0' + v%10)}, d...)
		v /= 10
	}
	return string(d)
}

func itoas(ids []uint32) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += itoa(uint64(id))
	}
	return s + "]"
}

// ofType returns the messages of type t.
func ofType(ms []*codec.ServerMsg, t codec.Type) []*codec.ServerMsg {
	var out []*codec.ServerMsg
	for _, m := range ms {
		if m.Type == t {
			out = append(out, m)
		}
	}
	return out
}

// one returns the only message of type t, failing otherwise.
func one(t testing.TB, ms []*codec.ServerMsg, typ codec.Type) *codec.ServerMsg {
	t.Helper()
	got := ofType(ms, typ)
	if len(got) != 1 {
		t.Fatalf("want exactly one message of type %d, got %d:%s", typ, len(got), dump(ms))
	}
	return got[0]
}

// frameOf returns the only frame in ms.
func frameOf(t testing.TB, ms []*codec.ServerMsg) *codec.Frame {
	t.Helper()
	return one(t, ms, codec.TFrame).Frame
}

// roomOf returns the room part of the only frame in ms, failing if nil.
func roomOf(t testing.TB, ms []*codec.ServerMsg) *codec.RoomDelta {
	t.Helper()
	f := frameOf(t, ms)
	if f.Room == nil {
		t.Fatalf("frame has no room part:%s", dump(ms))
	}
	return f.Room
}

// wantError checks that ms holds exactly one error with rid and code.
func wantError(t testing.TB, ms []*codec.ServerMsg, rid uint32, code codec.Code) *codec.ServerMsg {
	t.Helper()
	e := one(t, ms, codec.TError)
	if e.RID != rid || e.Code != code {
		t.Fatalf("error rid=%d code=%s (%q), want rid=%d code=%s", e.RID, e.Code, e.Message, rid, code)
	}
	return e
}

func wantOK(t testing.TB, ms []*codec.ServerMsg, rid uint32) {
	t.Helper()
	if ok := one(t, ms, codec.TOK); ok.RID != rid {
		t.Fatalf("ok rid=%d, want %d", ok.RID, rid)
	}
	if e := ofType(ms, codec.TError); len(e) != 0 {
		t.Fatalf("unexpected error:%s", dump(e))
	}
}

// wantClose checks that ms ends with a close message with code.
func wantClose(t testing.TB, ms []*codec.ServerMsg, code codec.Code) *codec.ServerMsg {
	t.Helper()
	if len(ms) == 0 || ms[len(ms)-1].Type != codec.TClose {
		t.Fatalf("want a close message last, got:%s", dump(ms))
	}
	c := one(t, ms, codec.TClose)
	if c.Code != code {
		t.Fatalf("close code %s (%q), want %s", c.Code, c.Message, code)
	}
	return c
}

func wantEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// createRoom makes c create a room and returns its id and code, draining
// what c received.
func (c *tc) createRoom(mode string, maxPlayers int, public bool, ps []codec.Prop) (uint32, string) {
	c.x.t.Helper()
	c.send(codec.ClientMsg{Type: codec.TCreateRoom, RID: 1, Mode: []byte(mode), MaxPlayers: maxPlayers, Public: public, Props: ps})
	c.x.tick()
	j := one(c.x.t, c.recv(), codec.TRoomJoined)
	return j.RoomID, j.JoinCode
}

// joinCode makes c join by code, checks the room_joined reply and drains.
func (c *tc) joinCode(code string) {
	c.x.t.Helper()
	c.send(codec.ClientMsg{Type: codec.TJoinCode, RID: 2, Code: []byte(code)})
	c.x.tick()
	ms := c.recv()
	if j := one(c.x.t, ms, codec.TRoomJoined); j.RID != 2 {
		c.x.t.Fatalf("room_joined rid %d", j.RID)
	}
}

// drain discards what every client received so far.
func drain(cs ...*tc) {
	for _, c := range cs {
		c.l.sent = nil
	}
}

// roomWith returns a harness with a room holding players named names (the
// first creates it and is master); every client is drained.
func roomWith(t testing.TB, names ...string) (*harness, []*tc, *room) {
	t.Helper()
	x := newHarness(t)
	cs := make([]*tc, len(names))
	for i, n := range names {
		cs[i] = x.player(n)
	}
	id, code := cs[0].createRoom("dm", 0, true, nil)
	for _, c := range cs[1:] {
		c.joinCode(code)
	}
	drain(cs...)
	return x, cs, x.h.rooms[id]
}
