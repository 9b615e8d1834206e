//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
)

// The WebSocket bots speak the relay's WebSocket transport as a web export
// of a Godot game does (godot/addons/tickrelay/websocket_link.gd): one
// binary message per protocol message body, no length prefix. The client
// is github.com/coder/websocket, the library the relay serves with.
//
// Each bot has two goroutines: its writer, which connects and then sends
// the hello, the room request, states and pings on its own timer, and its
// reader, which walks what arrives and wakes the writer when a frame asks
// for a state. That costs more per bot than the KCP workers' one thread
// for many bots (a goroutine switch and a system call per message), but
// each bot needs a TCP socket of its own anyway, and the kernel's TCP work
// per message dominates; the report gives this side's CPU so that one can
// tell whether it limits a run. Bots are sharded for their statistics:
// a shard's mutex guards its statistics and its bots' shared fields.

// wsShardSize is the number of bots whose statistics one mutex guards.
const wsShardSize = 64

// wsSet is every WebSocket bot of a run.
type wsSet struct {
	cfg      *config
	ctl      *control
	url      string
	bots     []*wsBot
	shards   []*wsShard
	period   atomic.Int64 // the tick period in ns, from the welcome
	tickRate atomic.Int64

	ctx      context.Context // ends at phaseStop: cancels dials
	cancel   context.CancelFunc
	byeC     chan struct{} // closed at phaseBye: bots not connected yet stay out
	byeOnce  sync.Once
	stopOnce sync.Once
	byeLeft  atomic.Int64  // writers still running
	byeDone  chan struct{} // closed when byeLeft reaches 0
	wg       sync.WaitGroup

	tcpMu   sync.Mutex // one wire snapshot at a time; guards the bots' tcpLast
	errMu   sync.Mutex
	dialErr string // the first connection error, for the report
}

type wsShard struct {
	mu sync.Mutex
	st workerStats
}

// wsBot is one WebSocket player.
type wsBot struct {
	s         *wsSet
	sh        *wsShard
	addr      [4]byte // its own loopback address, as the KCP bots have
	name      []byte
	room      *room
	connectAt int64 // mono ns
	pollPhase int64 // the modelled game's polls are at pollPhase + k*poll period
	// kick wakes the writer: the reader has news or ended, the phase
	// changed, or the bot's room was created. One channel and a timer
	// are all the writer waits on (a wider select cost a sixth of the
	// generator's CPU).
	kick      chan struct{}
	readerEnd atomic.Bool

	// The writer's.
	conn    *websocket.Conn
	stateFr []byte // a state message body, re-stamped for every send
	stampAt int
	ctrl    []byte // hello, room request or bye
	ping    []byte
	rid     uint32
	// The reader's.
	in []byte

	// Guarded by sh.mu.
	tcp       *net.TCPConn
	hdr       uint64 // IP and TCP header bytes per segment
	id        uint32
	state     botState
	settled   bool
	requested bool // the room request went out
	byeSent   bool
	helloAt   int64
	nextState int64
	nextPing  int64
	answering bool // a frame's answer (the state) goes at answerAt
	answerAt  int64
	stateTick uint64
	lastFrame int64
	lastTick  uint64

	tcpLast tcpCounters // guarded by s.tcpMu
}

// newWSSet makes the WebSocket bots of the plan; nil when it has none.
func newWSSet(c *config, url string, ctl *control, plans []roomPlan) *wsSet {
	s := &wsSet{cfg: c, ctl: ctl, url: url, byeC: make(chan struct{}), byeDone: make(chan struct{})}
	s.period.Store(int64(time.Second / 30))
	template, stampAt := stateTemplate(c.stateBytes)
	for _, p := range plans {
		for _, m := range p.members {
			if m.kind != kindWS {
				continue
			}
			if len(s.bots)%wsShardSize == 0 {
				s.shards = append(s.shards, &wsShard{st: newWorkerStats()})
			}
			b := &wsBot{
				s: s, sh: s.shards[len(s.shards)-1], addr: botAddr(m.index), room: p.rm,
				name:      fmt.Appendf(nil, "bot%d", m.index),
				connectAt: int64(m.index) * c.spacing(),
				kick:      make(chan struct{}, 1),
				stateFr:   append([]byte(nil), template[codec.FrameHeaderSize:]...),
				stampAt:   stampAt - codec.FrameHeaderSize,
			}
			if c.pollHz > 0 {
				b.pollPhase = rand.Int64N(int64(time.Second) / int64(c.pollHz))
			}
			if p.rm != nil {
				if p.rm.creator == nil && p.rm.wsCreator == nil {
					p.rm.wsCreator = b // a room without KCP bots: its first WebSocket bot creates it
				}
				p.rm.wsMembers = append(p.rm.wsMembers, b)
			}
			s.bots = append(s.bots, b)
		}
	}
	if len(s.bots) == 0 {
		return nil
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// start runs every bot; connection times count from now.
func (s *wsSet) start() {
	base := mono()
	s.byeLeft.Store(int64(len(s.bots)))
	for _, b := range s.bots {
		b.connectAt += base
		s.wg.Add(1)
		go b.run()
	}
}

func (s *wsSet) phaseChanged(p phase) {
	if p >= phaseBye {
		s.byeOnce.Do(func() { close(s.byeC) })
	}
	if p >= phaseStop {
		s.stopOnce.Do(s.cancel)
	}
	for _, b := range s.bots {
		b.wake()
	}
}

// stop waits for every bot; the phase is already phaseStop.
func (s *wsSet) stop() { s.wg.Wait() }

func (s *wsSet) statesOnFrames() bool { return s.cfg.statesOnFrames(int(s.tickRate.Load())) }

// run is the bot's writer goroutine: it connects at connectAt, starts the
// reader, and sends until the bye is answered or the run stops.
func (b *wsBot) run() {
	s := b.s
	defer s.wg.Done()
	defer func() {
		if s.byeLeft.Add(-1) == 0 {
			close(s.byeDone)
		}
	}()
	tm := time.NewTimer(time.Duration(b.connectAt - mono()))
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-s.byeC: // not connected in time: left out, like a KCP bot
		return
	}
	if !b.connect(tm) {
		return
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer b.wake()
		defer b.readerEnd.Store(true)
		b.readLoop()
	}()
	b.writeLoop(tm)
	_ = b.conn.CloseNow()
	<-readerDone
}

// connect dials until it succeeds, as a game client would: a relay that
// refuses a connection (503 when too many are in their handshake, 429 for
// the rate) is asked again after a growing, jittered pause, until the join
// timeout. Each refusal is counted (ws_connect_retried), and a bot that
// never connects fails (ws_connect_failed).
func (b *wsBot) connect(tm *time.Timer) bool {
	s := b.s
	start := mono()
	pause := 50 * time.Millisecond
	for {
		err := b.dial(time.Duration(start + int64(s.cfg.joinTimeout) - mono()))
		if err == nil {
			return true
		}
		s.errMu.Lock()
		if s.dialErr == "" {
			s.dialErr = err.Error()
		}
		s.errMu.Unlock()
		b.sh.mu.Lock()
		late := mono()-start+int64(pause) >= int64(s.cfg.joinTimeout)
		if late {
			b.sh.st.errors["ws_connect_failed"]++
			b.fail()
		} else {
			b.sh.st.errors["ws_connect_retried"]++
		}
		b.sh.mu.Unlock()
		if late {
			return false
		}
		tm.Reset(pause/2 + rand.N(pause))
		select {
		case <-tm.C:
		case <-s.byeC: // left out, like a bot not connected in time
			return false
		}
		pause = min(2*pause, time.Second)
	}
}

// dial opens the WebSocket from the bot's own address.
func (b *wsBot) dial(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(b.s.ctx, timeout)
	defer cancel()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(b.addr[:])}}
	var tcp *net.TCPConn
	tr := &http.Transport{
		// No proxy (the zero Proxy), no connection reuse: every bot has
		// its own connection from its own address.
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp4", addr)
			if err == nil {
				tcp, _ = c.(*net.TCPConn)
			}
			return c, err
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	ws, _, err := websocket.Dial(ctx, b.s.url, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return err
	}
	ws.SetReadLimit(maxServerFrame)
	b.conn = ws
	hdr := uint64(ipTCPHeader)
	if c, ok := readTCP(tcp); ok {
		hdr = c.hdr
	}
	b.sh.mu.Lock()
	b.tcp, b.hdr = tcp, hdr
	b.sh.mu.Unlock()
	return nil
}

// writeLoop sends what is due, then sleeps until the next due time or a
// kick.
func (b *wsBot) writeLoop(tm *time.Timer) {
	s := b.s
	var out [3][]byte
	for {
		n, stateAt := 0, -1
		ph := phase(s.ctl.phase.Load())
		if ph == phaseStop || b.readerEnd.Load() {
			return
		}
		b.sh.mu.Lock()
		now := mono()
		st := &b.sh.st
		switch {
		case ph >= phaseBye && b.state == botClosed:
			b.sh.mu.Unlock()
			return // the bye was answered, or the bot had failed
		case ph >= phaseBye && !b.byeSent:
			b.byeSent = true
			b.ctrl = codec.AppendClient(b.ctrl[:0], &codec.ClientMsg{Type: codec.TBye})
			out[n], n = b.ctrl[codec.FrameHeaderSize:], n+1
		case ph >= phaseBye:
		case b.state == botIdle:
			b.helloAt, b.state, b.nextPing = now, botHello, now+int64(time.Second)
			b.ctrl = codec.AppendClient(b.ctrl[:0], &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion, Name: b.name})
			out[n], n = b.ctrl[codec.FrameHeaderSize:], n+1
		case b.state == botClosed:
		default:
			if m := b.roomRequest(); m != nil {
				out[n], n = m, n+1
			}
			if b.stateDue(now) {
				stateAt, out[n], n = n, b.stateFr, n+1
				st.c.StatesSent++
			}
			if b.state >= botWelcomed && now >= b.nextPing {
				b.nextPing = now + int64(time.Second)
				b.ping = codec.AppendClient(b.ping[:0], &codec.ClientMsg{Type: codec.TPing, ClientTime: now})
				out[n], n = b.ping[codec.FrameHeaderSize:], n+1
				st.c.Pings++
			}
		}
		for _, m := range out[:n] {
			st.c.MsgsOut++
			st.c.PayloadOut += uint64(len(m))
			f := uint64(wsHeaderBytes(len(m), true))
			st.c.Framing += f
			st.c.LeastOut += uint64(len(m)) + f + b.hdr
		}
		wait := b.nextDue(now)
		b.sh.mu.Unlock()
		for i, m := range out[:n] {
			if i == stateAt {
				binary.BigEndian.PutUint64(b.stateFr[b.stampAt:], stamp(kindWS))
			}
			if err := b.conn.Write(context.Background(), websocket.MessageBinary, m); err != nil {
				return // the reader sees the connection end too
			}
		}
		tm.Reset(time.Duration(wait))
		select {
		case <-b.kick:
		case <-tm.C:
		}
	}
}

// roomRequest is the welcomed bot's create_room or join_room, once: a
// joiner's as soon as its room exists (room.markCreated wakes it). sh.mu
// is held.
func (b *wsBot) roomRequest() []byte {
	rm := b.room
	if b.state != botWelcomed || rm == nil || b.requested {
		return nil
	}
	b.rid++
	var m codec.ClientMsg
	if rm.wsCreator == b {
		m = codec.ClientMsg{Type: codec.TCreateRoom, RID: b.rid, Mode: []byte("bench"), MaxPlayers: b.s.cfg.roomSize, Public: true}
	} else {
		select {
		case <-rm.ready:
		default:
			return nil
		}
		m = codec.ClientMsg{Type: codec.TJoinRoom, RID: b.rid, RoomID: rm.id}
		if b.s.cfg.joinByCode {
			m = codec.ClientMsg{Type: codec.TJoinCode, RID: b.rid, Code: []byte(rm.code)}
		}
	}
	b.requested = true
	b.ctrl = codec.AppendClient(b.ctrl[:0], &m)
	return b.ctrl[codec.FrameHeaderSize:]
}

// stateDue says whether the state goes now, as the KCP bots decide: the
// answer to a frame at the poll that read it, or the fallback when frames
// stop (or, with -state-on-frame=false, the timer). sh.mu is held.
func (b *wsBot) stateDue(now int64) bool {
	if b.state != botInRoom || b.room == nil || b.s.cfg.rate <= 0 {
		return false
	}
	period := int64(time.Second) / int64(b.s.cfg.rate)
	switch {
	case b.answering && now >= b.answerAt:
		b.answering = false
		b.nextState = now + 2*b.s.period.Load() // the fallback if frames stop
	case !b.answering && now >= b.nextState:
		switch {
		case b.s.statesOnFrames():
			b.nextState = now + 2*period
		case b.nextState+period <= now: // more than a period late: drop, don't burst
			b.nextState = now + period
		default:
			b.nextState += period
		}
	default:
		return false
	}
	return true
}

// nextDue is how long the writer may sleep, in ns. sh.mu is held.
func (b *wsBot) nextDue(now int64) int64 {
	next := now + int64(time.Second)
	if b.state >= botWelcomed && b.state != botClosed {
		next = min(next, b.nextPing)
	}
	if b.state == botInRoom && b.room != nil && b.s.cfg.rate > 0 {
		if b.answering {
			next = min(next, b.answerAt)
		} else {
			next = min(next, b.nextState)
		}
	}
	return max(next-now, 0)
}

func (b *wsBot) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// readLoop reads messages until the connection ends.
func (b *wsBot) readLoop() {
	defer b.wake()
	for {
		typ, r, err := b.conn.Reader(context.Background())
		if err == nil {
			b.in, err = readMessage(r, b.in[:0])
		}
		now := mono()
		b.sh.mu.Lock()
		if err != nil {
			if b.state != botClosed {
				if phase(b.s.ctl.phase.Load()) < phaseBye {
					b.sh.st.errors["ws_connection_lost"]++
				}
				b.fail()
			}
			b.sh.mu.Unlock()
			return
		}
		wake := b.received(typ, b.in, now)
		b.sh.mu.Unlock()
		if wake {
			b.wake()
		}
	}
}

// readMessage appends the rest of a message to buf; the connection's read
// limit bounds it.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// received handles one message; it reports whether the writer has
// something new to do. sh.mu is held.
func (b *wsBot) received(typ websocket.MessageType, body []byte, now int64) bool {
	st := &b.sh.st
	f := uint64(wsHeaderBytes(len(body), false))
	st.c.MsgsIn++
	st.c.PayloadIn += uint64(len(body))
	st.c.Framing += f
	st.c.LeastIn += uint64(len(body)) + f + b.hdr
	if b.state == botClosed {
		return false
	}
	ph := phase(b.s.ctl.phase.Load())
	if typ != websocket.MessageBinary {
		st.c.ParseErrs++
		return false
	}
	if len(body) >= 2 && body[0]&0xf0 == 0x90 && body[1] == byte(codec.TFrame) {
		return b.frame(body, now, ph)
	}
	m, err := codec.DecodeServer(body)
	if err != nil {
		st.c.ParseErrs++
		return false
	}
	switch m.Type {
	case codec.TWelcome:
		b.id = m.PlayerID
		if m.TickRate > 0 {
			b.s.period.Store(int64(time.Second) / int64(m.TickRate))
			b.s.tickRate.Store(int64(m.TickRate))
			st.tickRate = m.TickRate
		}
		b.state = botWelcomed
		if b.room == nil { // lobby mode: connected is all there is
			b.state = botInRoom
			b.joined(now)
		}
		return true
	case codec.TRoomJoined:
		if rm := b.room; rm != nil && rm.wsCreator == b {
			rm.markCreated(m.RoomID, m.JoinCode)
		}
		b.state = botInRoom
		switch {
		case b.s.statesOnFrames():
			b.nextState = now + 2*b.s.period.Load()
		case b.s.cfg.rate > 0:
			p := int64(time.Second) / int64(b.s.cfg.rate)
			b.nextState = now + rand.Int64N(p) // spread over the period
		}
		b.joined(now)
		return true
	case codec.TError:
		st.errors[m.Code.String()]++
		if b.state == botWelcomed {
			b.fail()
		}
	case codec.TClose:
		st.closes[m.Code.String()]++
		b.fail()
		return true
	case codec.TPong:
		if ph == phaseMeasure {
			st.rtt.record(time.Duration(mono() - m.ClientTime - m.HoldUs*1000))
		}
	case codec.TRoomLeft:
		st.errors["room_left:"+m.Code.String()]++
		if b.state == botInRoom {
			st.inRoom--
			b.state = botWelcomed
		}
	}
	return false
}

// frame reads a per-tick frame; a frame of a newer tick than the last
// state answered asks for the next state. The Godot client answers over
// WebSocket at the poll that read the frame (its WebSocket link defers
// nothing: there are no acks to share a datagram with), or with -ws-defer
// at the next, as over KCP. sh.mu is held.
func (b *wsBot) frame(body []byte, now int64, ph phase) bool {
	st := &b.sh.st
	st.c.Frames++
	measuring := ph == phaseMeasure
	recvUnix := wallEpoch + now
	tk, inRoom, err := walkFrame(body, func(id uint32, v []byte) {
		st.stateEntry(kindWS, id == b.id, v, recvUnix, measuring)
	})
	if err != nil {
		st.c.ParseErrs++
		return false
	}
	if b.lastFrame != 0 {
		if measuring {
			d := now - b.lastFrame - b.s.period.Load()
			st.jitter.record(time.Duration(max(d, -d)))
		}
		if tk > b.lastTick+1 {
			st.c.TickGaps += tk - b.lastTick - 1
		}
	}
	b.lastFrame, b.lastTick = now, tk
	if !inRoom || tk <= b.stateTick || !b.s.statesOnFrames() {
		return false
	}
	b.stateTick = tk
	if b.state != botInRoom || ph >= phaseBye || b.answering {
		return false
	}
	at := now
	if hz := b.s.cfg.pollHz; hz > 0 {
		p := int64(time.Second) / int64(hz)
		at += ((b.pollPhase-now)%p + p) % p // the first poll at or after now
		if b.s.cfg.wsDefer && p*100 <= b.s.period.Load()*55 {
			at += p // the next one, as the KCP bots (and coalesce_sends)
		}
	}
	b.answering, b.answerAt = true, at
	return true
}

func (b *wsBot) joined(now int64) {
	b.sh.st.inRoom++
	if !b.settled {
		b.settled = true
		b.sh.st.join.record(time.Duration(now - b.helloAt))
		b.s.ctl.settle()
	}
}

// fail marks b closed: the server closed it, or it could not connect or
// join. sh.mu is held.
func (b *wsBot) fail() {
	if b.state == botClosed {
		return
	}
	if b.state == botInRoom {
		b.sh.st.inRoom--
	}
	b.state = botClosed
	if !b.settled {
		b.settled = true
		b.sh.st.failed++
		b.s.ctl.settle()
	}
}

// wsHeaderBytes is the size of a WebSocket frame header for an n-byte
// payload (RFC 6455 5.2); a client's frames carry a 4-byte mask key.
func wsHeaderBytes(n int, masked bool) int {
	h := 2
	switch {
	case n > 65535:
		h += 8
	case n > 125:
		h += 2
	}
	if masked {
		h += 4
	}
	return h
}

// snapshot merges the shards' statistics; with wire, it reads every
// connection's TCP counters too (a connection that closed keeps its last
// reading).
func (s *wsSet) snapshot(wire bool) workerStats {
	out := newWorkerStats()
	for _, sh := range s.shards {
		sh.mu.Lock()
		out.add(&sh.st)
		sh.mu.Unlock()
	}
	if !wire {
		return out
	}
	s.tcpMu.Lock()
	defer s.tcpMu.Unlock()
	c := &out.c
	for _, b := range s.bots {
		b.sh.mu.Lock()
		tcp := b.tcp
		b.sh.mu.Unlock()
		if v, ok := readTCP(tcp); ok {
			b.tcpLast = v
		}
		t := &b.tcpLast
		c.DgramsIn += t.segsIn
		c.DgramsOut += t.segsOut
		c.UDPBytesIn += t.bytesIn
		c.UDPBytesOut += t.bytesOut
		c.WireIn += t.bytesIn + t.hdr*t.segsIn
		c.WireOut += t.bytesOut + t.hdr*t.segsOut
		c.TCPRetrans += t.retrans
	}
	return out
}

// takeRecent merges and clears the since-last-progress-line histograms.
func (s *wsSet) takeRecent() hist {
	var h hist
	for _, sh := range s.shards {
		sh.mu.Lock()
		h.merge(&sh.st.latRecent)
		sh.st.latRecent.reset()
		sh.mu.Unlock()
	}
	return h
}

func (s *wsSet) firstDialError() string {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.dialErr
}
