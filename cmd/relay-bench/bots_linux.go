package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/kcpx"
)

// The bots are built for cost, not convenience: thousands of them must load
// a server without the generator becoming the bottleneck (kcp-go's own
// client sessions cost about as much CPU as the server they load). So:
//
//   - each bot is a bare KCP state machine (kcp.NewKCP) with its own
//     loopback address, because the server keys sessions by source
//     address, on its worker's one UDP socket (sock_linux.go);
//   - a few workers, each locked to one OS thread, own disjoint sets of
//     bots and run them from one socket and one timing wheel: no
//     goroutine, timer or lock per bot, and a bot's state is only ever
//     touched by its worker;
//   - all bots of a room live on one worker, so the creator can hand its
//     room id to the joiners without cross-thread signalling;
//   - frames are walked in place with codec.Reader, never decoded into
//     allocated structures.

type phase int32

const (
	phaseJoin    phase = iota // connecting and joining rooms
	phaseWarmup               // full load, not measured
	phaseMeasure              // full load, measured
	phaseBye                  // bots say bye and wait for the server's close
	phaseStop                 // workers close their sockets and return
)

// control is what the controller and the workers share.
type control struct {
	phase    atomic.Int32
	settled  atomic.Int64 // bots that joined (or, in lobby mode, were welcomed) or failed
	total    int64
	settledC chan struct{}
	once     sync.Once
}

func (c *control) settle() {
	if c.settled.Add(1) == c.total {
		c.once.Do(func() { close(c.settledC) })
	}
}

// counters are monotonic totals; the report uses their change over the
// measured window.
type counters struct {
	DgramsIn, DgramsOut     uint64 // UDP datagrams read and written at the bots' sockets
	UDPBytesIn, UDPBytesOut uint64 // their payload bytes (KCP segments)
	MsgsIn, MsgsOut         uint64 // KCP messages received (Recv) and sent (Send)
	PayloadIn, PayloadOut   uint64 // protocol bytes, frame length prefixes included
	Frames                  uint64 // per-tick frames received
	StatesSent, StatesRecv  uint64 // state messages sent; state entries in received frames
	TickGaps                uint64 // tick numbers missing between a bot's consecutive frames
	Pings                   uint64
	SendAgain               uint64 // writes refused with EAGAIN: dropped at our own socket
	SendErrs, ReadErrs      uint64 // other socket errors; datagrams not from the server to a bot
	SendBlocked             uint64 // messages not sent because the bot's KCP queue was full
	KCPInputErrs            uint64
	ParseErrs               uint64
	// For the report, whatever the transport: bytes on the wire (IP
	// and UDP or TCP headers included) and the least the messages could
	// cost (each in its own packet with the transport's headers). KCP:
	// derived in botSet.snapshot; WebSocket: from TCP_INFO (wire) and
	// counted per message (least).
	WireIn, WireOut   uint64
	LeastIn, LeastOut uint64
	Framing           uint64 // WebSocket frame header bytes, both ways
	TCPRetrans        uint64 // the WebSocket bots' TCP segments resent
}

type workerStats struct {
	c         counters
	lat       hist           // state set -> remote receipt, measured window
	latFrom   [numKinds]hist // lat, by the sending bot's transport
	latAll    hist           // same, since the first state
	latRecent hist           // same, since the last progress line
	jitter    hist           // |frame interval - tick period|, measured window
	rtt       hist           // ping round trip minus the server's hold, measured window
	join      hist           // hello sent -> room_joined (lobby mode: -> welcome)
	inRoom    int            // bots in a room now (lobby mode: welcomed)
	tickRate  int            // from the welcome
	failed    int
	closes    map[string]int // close reasons the server sent, by name
	errors    map[string]int // error replies, by code name
}

type botState uint8

const (
	botIdle     botState = iota // not connected yet
	botHello                    // hello sent
	botWelcomed                 // welcome received, room request not answered
	botInRoom
	botClosed // the server closed it, or it failed
)

// room is one planned room. Its creator is its first KCP bot if it has
// one (a KCP worker then hands the id to its KCP members without
// signalling), else its first WebSocket bot; WebSocket members wait on
// ready, so a room can mix transports.
type room struct {
	creator   *bot   // the KCP creator
	wsCreator *wsBot // the WebSocket creator, in rooms without KCP bots
	id        uint32
	code      string
	created   bool
	waiting   []*bot        // welcomed KCP members waiting for the creator's room
	ready     chan struct{} // closed once id and code are set
	wsMembers []*wsBot      // woken once it is
}

// markCreated records the room's id and code and wakes its WebSocket
// members; only the creator's goroutine calls it.
func (rm *room) markCreated(id uint32, code string) {
	if rm.created {
		return
	}
	rm.id, rm.code, rm.created = id, code, true
	close(rm.ready)
	for _, b := range rm.wsMembers {
		b.wake()
	}
}

type bot struct {
	w         *worker
	local     int     // index in w.bots
	addr      [4]byte // botAddr of its index among all bots: the source of its datagrams
	k         *kcp.KCP
	room      *room
	name      []byte
	id        uint32
	state     botState
	settled   bool
	byeSent   bool
	connectAt int64 // mono ns
	helloAt   int64
	nextState int64
	nextPing  int64
	lastFrame int64
	lastTick  uint64
	// With states on frames: the tick of the frame the last state
	// answered, and whether a newer frame asks for one now.
	stateTick uint64
	stateOwed bool
	inInput   bool  // acks that Input sends wait (held) for the state
	pollPhase int64 // the modelled game's polls are at pollPhase + k*poll period
	answering bool  // a frame's answer (state and acks) goes at answerAt
	answerAt  int64
	in        []byte // received stream bytes not yet cut into frames
	// With -hold-acks: datagrams of acks only, held for the next datagram
	// with data, or until heldAt + one tick.
	held   []byte
	heldAt int64

	// Scheduling (sched_linux.go): the bot is in the wheel at due; a
	// flush is owed by flushDue (data received or queued).
	due       uint32
	inWheel   bool
	flushOwed bool
	flushDue  uint32
}

type worker struct {
	cfg    *config
	ctl    *control
	sock   *botSocket
	bots   []*bot
	all    []*bot // every worker's bots by index (botAddr), read-only once running
	period int64  // tick period in ns, from the welcome

	wheel   [wheelSize][]*bot
	spare   []*bot // runWheel's swap buffer
	turning bool   // runWheel is running turns
	lastMs  uint32
	clk     *kcp.KCP // never updated, so its Check() reads kcp-go's clock
	sbuf    []byte
	stateFr []byte // a state message, re-stamped for every send
	stampAt int    // offset of the send time in stateFr
	rid     uint32

	nextConnect int
	byeSent     bool
	byePending  int
	byeDone     chan struct{}
	byeOnce     sync.Once
	tid         int
	ready       chan struct{}
	done        chan struct{}
	err         error

	mu sync.Mutex // held while the worker runs a batch; guards st
	st workerStats
}

// wheelSize bounds how far ahead a bot can be scheduled, in kcp-go
// milliseconds: a little under one state period at 30 Hz.
const wheelSize = 32

const kcpInterval = 10

// epoch anchors the bots' clock: mono() is monotonic, and wallEpoch+mono()
// is the Unix time stamped into states, so a receiving bot on the same
// machine subtracts two readings of the same monotonic clock.
var (
	epoch     = time.Now()
	wallEpoch = epoch.UnixNano()
)

func mono() int64 { return int64(time.Since(epoch)) }

// botSet is every bot, split among workers.
type botSet struct {
	workers []*worker
	ctl     *control
	ports   map[int]bool
}

// newBotSet makes the KCP bots of the plan: all bots of a room on one
// worker. It returns nil when the plan has no KCP bots.
func newBotSet(cfg *config, server netip.AddrPort, ctl *control, plans []roomPlan) (*botSet, error) {
	n, rooms := 0, 0
	for _, p := range plans {
		if k := p.count(kindKCP); k > 0 {
			n += k
			rooms++
		}
	}
	if n == 0 {
		return nil, nil
	}
	nw := max(1, min(cfg.workers, rooms))
	set := &botSet{ctl: ctl, ports: map[int]bool{}}
	for i := 0; i < nw; i++ {
		sock, err := openBotSocket(server, cfg.embedded || cfg.transport != "kcp")
		if err != nil {
			set.close()
			return nil, err
		}
		set.ports[sock.port] = true
		w := &worker{
			cfg: cfg, ctl: ctl, sock: sock,
			clk:     kcp.NewKCP(0, nil),
			byeDone: make(chan struct{}),
			ready:   make(chan struct{}),
			done:    make(chan struct{}),
			period:  int64(time.Second / 30),
			st:      newWorkerStats(),
		}
		w.buildStateTemplate()
		set.workers = append(set.workers, w)
	}
	// Connections are paced in bot order (connectAt), and a room's
	// creator is its first KCP member: it connects before the others.
	all := make([]*bot, cfg.players) // by bot index; nil for WebSocket bots
	r := 0
	for _, p := range plans {
		if p.count(kindKCP) == 0 {
			continue
		}
		w := set.workers[r%nw]
		r++
		for _, m := range p.members {
			if m.kind != kindKCP {
				continue
			}
			b, err := w.newBot(m.index, cfg.spacing())
			if err != nil {
				set.close()
				return nil, err
			}
			all[m.index] = b
			if p.rm != nil {
				b.room = p.rm
				if p.rm.creator == nil {
					p.rm.creator = b
				}
			}
		}
	}
	for _, w := range set.workers {
		w.all = all
	}
	return set, nil
}

func (w *worker) newBot(index int, spacing int64) (*bot, error) {
	if index >= maxBots {
		return nil, fmt.Errorf("bot %d: at most %d bots have a loopback address", index, maxBots)
	}
	b := &bot{
		w: w, local: len(w.bots), addr: botAddr(index),
		name:      fmt.Appendf(nil, "bot%d", index),
		connectAt: int64(index) * spacing,
	}
	if w.cfg.pollHz > 0 {
		b.pollPhase = rand.Int64N(int64(time.Second) / int64(w.cfg.pollHz))
	}
	conv := rand.Uint32() | 1 // any non-zero conversation id
	b.k = kcp.NewKCP(conv, func(buf []byte, size int) { w.output(b, buf[:size]) })
	b.k.NoDelay(1, kcpInterval, 2, 1)
	b.k.WndSize(128, 128)
	b.k.SetMtu(botMTU)
	w.bots = append(w.bots, b)
	return b, nil
}

// buildStateTemplate makes the worker's state message (stateTemplate).
func (w *worker) buildStateTemplate() { w.stateFr, w.stampAt = stateTemplate(w.cfg.stateBytes) }

// stateTemplate encodes one state message, length prefix included, of
// exactly size encoded value bytes: a msgpack bin whose first 8 bytes are
// the send time, at stampAt.
func stateTemplate(size int) (fr []byte, stampAt int) {
	b, start := codec.BeginFrame(nil)
	b = append(b, 0x92, byte(codec.TState))
	if size-2 <= math.MaxUint8 {
		b = append(b, 0xc4, byte(size-2))
	} else {
		b = append(b, 0xc5, byte((size-3)>>8), byte(size-3))
	}
	stampAt = len(b)
	for len(b)-start-codec.FrameHeaderSize-2 < size {
		b = append(b, byte(len(b)))
	}
	codec.EndFrame(b, start)
	return b, stampAt
}

// start runs every worker; connection times count from now.
func (s *botSet) start() {
	base := mono()
	for _, w := range s.workers {
		for _, b := range w.bots {
			b.connectAt += base
		}
		go w.run()
	}
	for _, w := range s.workers {
		<-w.ready
	}
}

func (s *botSet) setPhase(p phase) { s.ctl.phase.Store(int32(p)) }

// close releases the sockets of a set whose workers never started.
func (s *botSet) close() {
	for _, w := range s.workers {
		w.closeFDs()
	}
}

// stop tells every worker to return and waits for them.
func (s *botSet) stop() error {
	s.setPhase(phaseStop)
	var err error
	for _, w := range s.workers {
		<-w.done
		err = errors.Join(err, w.err)
	}
	return err
}

// snapshot merges every worker's statistics.
func (s *botSet) snapshot() workerStats {
	out := newWorkerStats()
	for _, w := range s.workers {
		w.mu.Lock()
		out.add(&w.st)
		w.mu.Unlock()
	}
	c := &out.c
	c.WireIn, c.WireOut = c.UDPBytesIn+ipUDPHeader*c.DgramsIn, c.UDPBytesOut+ipUDPHeader*c.DgramsOut
	c.LeastIn = c.PayloadIn + (kcpHeader+ipUDPHeader)*c.MsgsIn
	c.LeastOut = c.PayloadOut + (kcpHeader+ipUDPHeader)*c.MsgsOut
	return out
}

func newWorkerStats() workerStats {
	return workerStats{closes: map[string]int{}, errors: map[string]int{}}
}

// takeRecent merges and clears the since-last-progress-line histograms.
func (s *botSet) takeRecent() hist {
	var h hist
	for _, w := range s.workers {
		w.mu.Lock()
		h.merge(&w.st.latRecent)
		w.st.latRecent.reset()
		w.mu.Unlock()
	}
	return h
}

// workerCPU is the CPU time of the workers' threads so far.
func (s *botSet) workerCPU() time.Duration {
	var t time.Duration
	for _, w := range s.workers {
		t += threadCPU(w.tid)
	}
	return t
}

func (ws *workerStats) add(o *workerStats) {
	c, d := &ws.c, &o.c
	c.DgramsIn += d.DgramsIn
	c.DgramsOut += d.DgramsOut
	c.UDPBytesIn += d.UDPBytesIn
	c.UDPBytesOut += d.UDPBytesOut
	c.MsgsIn += d.MsgsIn
	c.MsgsOut += d.MsgsOut
	c.PayloadIn += d.PayloadIn
	c.PayloadOut += d.PayloadOut
	c.Frames += d.Frames
	c.StatesSent += d.StatesSent
	c.StatesRecv += d.StatesRecv
	c.TickGaps += d.TickGaps
	c.Pings += d.Pings
	c.SendAgain += d.SendAgain
	c.SendErrs += d.SendErrs
	c.ReadErrs += d.ReadErrs
	c.SendBlocked += d.SendBlocked
	c.KCPInputErrs += d.KCPInputErrs
	c.ParseErrs += d.ParseErrs
	c.WireIn += d.WireIn
	c.WireOut += d.WireOut
	c.LeastIn += d.LeastIn
	c.LeastOut += d.LeastOut
	c.Framing += d.Framing
	c.TCPRetrans += d.TCPRetrans
	ws.lat.merge(&o.lat)
	for k := range ws.latFrom {
		ws.latFrom[k].merge(&o.latFrom[k])
	}
	ws.latAll.merge(&o.latAll)
	ws.latRecent.merge(&o.latRecent)
	ws.jitter.merge(&o.jitter)
	ws.rtt.merge(&o.rtt)
	ws.join.merge(&o.join)
	ws.inRoom += o.inRoom
	ws.tickRate = max(ws.tickRate, o.tickRate)
	ws.failed += o.failed
	for k, v := range o.closes {
		ws.closes[k] += v
	}
	for k, v := range o.errors {
		ws.errors[k] += v
	}
}

func (w *worker) run() {
	defer close(w.done)
	// The thread is the worker's: its CPU time is the generator's cost
	// even when the server shares the process (-embedded).
	runtime.LockOSThread()
	w.tid = syscall.Gettid()
	w.lastMs = w.clk.Check()
	close(w.ready)
	defer w.closeFDs()
	for {
		ph := phase(w.ctl.phase.Load())
		if ph == phaseStop {
			return
		}
		if err := w.wait(w.timeout(ph)); err != nil {
			w.err = fmt.Errorf("bot socket: %w", err)
			return
		}
		w.mu.Lock()
		ph = phase(w.ctl.phase.Load())
		measuring := ph == phaseMeasure
		if ph >= phaseBye && !w.byeSent {
			w.sayBye()
		}
		for i := range w.sock.rn {
			p, to, ok := w.sock.datagram(i)
			if g, mine := botIndex(to, len(w.all)); ok && mine && w.all[g].w == w {
				w.readable(w.all[g], p, ph, measuring)
			} else {
				w.st.c.ReadErrs++
			}
		}
		now := mono()
		if ph < phaseBye {
			w.connectDue(now)
		}
		w.runWheel(now, ph)
		w.sock.flush(&w.st.c)
		w.mu.Unlock()
	}
}

// wait reads a batch of datagrams into w.sock, sleeping up to timeoutMs
// when none is waiting. With an external relay the worker sleeps in
// poll(2) itself: that keeps the worker on one thread with no handoff per
// wake-up, and the P it holds meanwhile only delays the bench's own
// controller. With -embedded it parks in the netpoller instead, which
// frees the P for the relay but costs a thread handoff per wake-up (the
// worker is locked to its thread), so embedded CPU figures overstate the
// generator's cost. So it does beside WebSocket bots: a worker that
// returned from poll(2) had to win a P back from a thousand runnable
// WebSocket goroutines, and under load lost (KCP bots then starved while
// WebSocket bots ran); in the netpoller it is one runnable goroutine
// among theirs, and a loaded generator delays every bot alike.
func (w *worker) wait(timeoutMs int) error {
	if err := w.sock.recv(); err != nil || w.sock.rn > 0 || timeoutMs <= 0 {
		return err
	}
	if err := w.sock.wait(timeoutMs); err != nil || w.sock.rn > 0 {
		return err
	}
	return w.sock.recv()
}

// timeout is how long the worker may sleep: until the next scheduled KCP update
// or connection, at most one KCP interval so phase changes are seen soon.
func (w *worker) timeout(ph phase) int {
	nowMs := w.clk.Check()
	wait := kcpInterval
	for d := 0; d <= kcpInterval; d++ {
		if len(w.wheel[(nowMs+uint32(d))%wheelSize]) > 0 {
			wait = d
			break
		}
	}
	if int32(nowMs-w.lastMs) > 0 {
		wait = 0 // the wheel is behind
	}
	if ph < phaseBye && w.nextConnect < len(w.bots) {
		until := (w.bots[w.nextConnect].connectAt - mono() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
		wait = int(max(0, min(int64(wait), until)))
	}
	return wait
}

// output is b's KCP output: held acks go with the next datagram.
func (w *worker) output(b *bot, p []byte) {
	if (w.cfg.holdAcks || b.inInput) && ackOnly(p) && len(b.held)+len(p) <= botMTU {
		if len(b.held) == 0 {
			b.heldAt = mono()
		}
		b.held = append(b.held, p...)
		return
	}
	if len(b.held) > 0 {
		if len(b.held)+len(p) <= botMTU {
			b.held = append(b.held, p...)
			p = b.held
		} else {
			w.write(b, b.held)
		}
		b.held = b.held[:0]
	}
	w.write(b, p)
}

// releaseHeld sends held acks that have waited a tick.
func (w *worker) releaseHeld(b *bot, now int64) {
	if len(b.held) > 0 && now-b.heldAt >= w.periodOr() {
		w.write(b, b.held)
		b.held = b.held[:0]
	}
}

func (w *worker) periodOr() int64 {
	if w.period > 0 {
		return w.period
	}
	return int64(time.Second) / 30
}

// ackOnly reports whether datagram p holds only KCP ack segments.
func ackOnly(p []byte) bool {
	for len(p) >= kcp.IKCP_OVERHEAD {
		if p[4] != kcp.IKCP_CMD_ACK {
			return false
		}
		n := int(binary.LittleEndian.Uint32(p[20:]))
		if n > len(p)-kcp.IKCP_OVERHEAD {
			return false
		}
		p = p[kcp.IKCP_OVERHEAD+n:]
	}
	return len(p) == 0
}

func (w *worker) write(b *bot, p []byte) { w.sock.queue(b.addr, p, &w.st.c) }

// botMTU is the bots' KCP MTU, the server's default.
const botMTU = 1200

// maxQueued bounds a bot's unacknowledged KCP messages: about 2 s of
// states. Each holds an MTU-sized buffer, so without a bound an overloaded
// server that stops acking would grow thousands of bots' queues by
// hundreds of MiB in the generator.
const maxQueued = 64

// send queues one protocol message on b's KCP. A bot whose queue is full
// (the server stopped acking) drops the message, as a game client with a
// bounded queue would.
func (w *worker) send(b *bot, p []byte) {
	if b.k.WaitSnd() >= maxQueued {
		w.st.c.SendBlocked++
		return
	}
	b.k.Send(p)
	w.owe(b, w.clk.Check()+kcpInterval)
	w.st.c.MsgsOut++
	w.st.c.PayloadOut += uint64(len(p))
}

func (w *worker) sendState(b *bot) {
	binary.BigEndian.PutUint64(w.stateFr[w.stampAt:], stamp(kindKCP))
	w.send(b, w.stateFr)
	w.st.c.StatesSent++
}

func (w *worker) connectDue(now int64) {
	nowMs := w.clk.Check()
	for w.nextConnect < len(w.bots) && w.bots[w.nextConnect].connectAt <= now {
		b := w.bots[w.nextConnect]
		w.nextConnect++
		b.helloAt = mono()
		b.state = botHello
		b.nextPing = now + int64(time.Second)
		w.sbuf = codec.AppendClient(w.sbuf[:0], &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion, Name: b.name})
		w.send(b, w.sbuf)
		kcpx.FlushNow(b.k, nowMs)
		b.flushOwed = false
		w.plan(b, now, nowMs)
	}
}

func (w *worker) sayBye() {
	w.byeSent = true
	bye := codec.AppendClient(nil, &codec.ClientMsg{Type: codec.TBye})
	for _, b := range w.bots {
		if b.state == botIdle || b.state == botClosed {
			continue
		}
		w.send(b, bye)
		b.byeSent = true
		w.byePending++
	}
	if w.byePending == 0 {
		w.byeOnce.Do(func() { close(w.byeDone) })
	}
}

// readable hands b one datagram p from the server.
func (w *worker) readable(b *bot, p []byte, ph phase, measuring bool) {
	w.st.c.DgramsIn++
	w.st.c.UDPBytesIn += uint64(len(p))
	if b.state == botClosed {
		return
	}
	// kcp-go's Input sends the acks itself when an ack in p slides its
	// window; with states on frames they wait, in held, for the state.
	b.inInput = w.statesOnFrames()
	if b.k.Input(p, kcp.IKCP_PACKET_REGULAR, false) != 0 {
		w.st.c.KCPInputErrs++
	}
	b.inInput = false
	w.received(b, p)
	now := mono()
	w.drain(b, now, measuring)
	if b.stateOwed {
		b.stateOwed = false
		if ph < phaseBye && b.state == botInRoom {
			w.owedAnswer(b, now, ph)
		}
	}
	if len(b.held) > 0 && !w.cfg.holdAcks && !b.answering {
		w.write(b, b.held) // no state to carry them
		b.held = b.held[:0]
	}
}

// statesOnFrames reports whether states go with each frame's acks: the
// Godot client's default (state_per_tick), which sends its state once per
// server tick in the datagram that acknowledges the tick's frame.
func (w *worker) statesOnFrames() bool { return w.cfg.statesOnFrames(w.st.tickRate) }

// owedAnswer schedules b's answer to the frame it just read: its state,
// in the datagram that acknowledges the frame. The Godot client reads the
// frame at its first poll after it arrives and answers there, or, with
// coalesce_sends and polls at most 0.55 of a tick apart, at the poll after
// that. With -poll-hz 0 the answer goes at once.
func (w *worker) owedAnswer(b *bot, now int64, ph phase) {
	if b.answering {
		return
	}
	at := now
	if w.cfg.pollHz > 0 {
		p := int64(time.Second) / int64(w.cfg.pollHz)
		at += ((b.pollPhase-now)%p + p) % p // the first poll at or after now
		if p*100 <= w.periodOr()*55 {
			at += p
		}
	}
	b.answerAt, b.answering = at, true
	b.flushOwed = false // the answer carries the acks
	nowMs := w.clk.Check()
	if at <= now {
		w.turn(b, now, nowMs, ph) // the state, one flush, the next due time
		return
	}
	w.plan(b, now, nowMs)
}

// maxServerFrame bounds a server message; a room's full snapshot can be
// large, but a few MiB is already far beyond anything the bench provokes.
const maxServerFrame = 4 << 20

// drain moves what KCP has assembled into b.in and handles every complete
// frame. KCP data is a byte stream here: a frame may span KCP messages.
func (w *worker) drain(b *bot, now int64, measuring bool) {
	for {
		sz := b.k.PeekSize()
		if sz < 0 {
			break
		}
		if cap(b.in)-len(b.in) < sz {
			grown := make([]byte, len(b.in), 2*cap(b.in)+sz)
			copy(grown, b.in)
			b.in = grown
		}
		n := b.k.Recv(b.in[len(b.in) : len(b.in)+sz])
		if n < 0 {
			break
		}
		b.in = b.in[:len(b.in)+n]
		w.st.c.MsgsIn++
		w.st.c.PayloadIn += uint64(n)
	}
	off := 0
	for len(b.in)-off >= codec.FrameHeaderSize {
		l := int(binary.BigEndian.Uint32(b.in[off:]))
		if l == 0 || l > maxServerFrame {
			w.st.c.ParseErrs++
			w.fail(b)
			b.in = b.in[:0]
			return
		}
		if len(b.in)-off-codec.FrameHeaderSize < l {
			break
		}
		w.handle(b, b.in[off+codec.FrameHeaderSize:off+codec.FrameHeaderSize+l], now, measuring)
		off += codec.FrameHeaderSize + l
	}
	b.in = b.in[:copy(b.in, b.in[off:])]
}

func (w *worker) handle(b *bot, body []byte, now int64, measuring bool) {
	if len(body) >= 2 && body[0]&0xf0 == 0x90 && body[1] == byte(codec.TFrame) {
		w.frame(b, body, now, measuring)
		return
	}
	// Everything else is rare (a few messages per bot per second at most):
	// the allocating decoder is fine.
	m, err := codec.DecodeServer(body)
	if err != nil {
		w.st.c.ParseErrs++
		return
	}
	switch m.Type {
	case codec.TWelcome:
		b.id = m.PlayerID
		if m.TickRate > 0 {
			w.period = int64(time.Second) / int64(m.TickRate)
			w.st.tickRate = m.TickRate
			// As the Godot client does: the relay holds its acks up to
			// a tick, so a shorter resend bound sends states twice.
			kcpx.SetMinRTO(b.k, kcpx.MinRTOForTick(m.TickRate))
		}
		b.state = botWelcomed
		switch rm := b.room; {
		case rm == nil: // lobby mode: connected is all there is
			b.state = botInRoom
			w.joined(b, now)
		case rm.creator == b:
			w.rid++
			w.sbuf = codec.AppendClient(w.sbuf[:0], &codec.ClientMsg{Type: codec.TCreateRoom, RID: w.rid,
				Mode: []byte("bench"), MaxPlayers: w.cfg.roomSize, Public: true})
			w.send(b, w.sbuf)
		case rm.created:
			w.join(b)
		default:
			rm.waiting = append(rm.waiting, b)
		}
	case codec.TRoomJoined:
		if rm := b.room; rm != nil && rm.creator == b {
			rm.markCreated(m.RoomID, m.JoinCode)
			for _, o := range rm.waiting {
				if o.state == botWelcomed {
					w.join(o)
				}
			}
			rm.waiting = nil
		}
		b.state = botInRoom
		switch {
		case w.statesOnFrames():
			// The first state answers the first frame; the timer only
			// covers frames that stop coming.
			b.nextState = now + 2*w.periodOr()
		case w.cfg.rate > 0:
			// Spread the bots' state sends over the period, as real
			// clients are, instead of having every bot of a room send
			// at once.
			b.nextState = now + rand.Int64N(int64(time.Second)/int64(w.cfg.rate))
		}
		w.joined(b, now)
	case codec.TError:
		w.st.errors[m.Code.String()]++
		if b.state == botWelcomed { // the room request failed
			w.fail(b)
		}
	case codec.TClose:
		w.st.closes[m.Code.String()]++
		w.fail(b)
	case codec.TPong:
		if measuring {
			w.st.rtt.record(time.Duration(mono() - m.ClientTime - m.HoldUs*1000))
		}
	case codec.TRoomLeft:
		w.st.errors["room_left:"+m.Code.String()]++
		if b.state == botInRoom {
			w.st.inRoom--
			b.state = botWelcomed
		}
	}
}

func (w *worker) join(b *bot) {
	w.rid++
	m := codec.ClientMsg{Type: codec.TJoinRoom, RID: w.rid, RoomID: b.room.id}
	if w.cfg.joinByCode {
		m = codec.ClientMsg{Type: codec.TJoinCode, RID: w.rid, Code: []byte(b.room.code)}
	}
	w.sbuf = codec.AppendClient(w.sbuf[:0], &m)
	w.send(b, w.sbuf)
}

func (w *worker) joined(b *bot, now int64) {
	w.st.inRoom++
	if !b.settled {
		b.settled = true
		w.st.join.record(time.Duration(now - b.helloAt))
		w.ctl.settle()
	}
}

// fail marks b closed: the server closed it, or it could not join.
func (w *worker) fail(b *bot) {
	if b.state == botClosed {
		return
	}
	if b.state == botInRoom {
		w.st.inRoom--
	}
	b.state = botClosed
	if !b.settled {
		b.settled = true
		w.st.failed++
		w.ctl.settle()
	}
	if b.byeSent {
		w.byePending--
		if w.byePending == 0 {
			w.byeOnce.Do(func() { close(w.byeDone) })
		}
	}
}

// frame reads a per-tick frame in place (walkFrame).
func (w *worker) frame(b *bot, body []byte, now int64, measuring bool) {
	w.st.c.Frames++
	recvUnix := wallEpoch + now
	tk, inRoom, err := walkFrame(body, func(id uint32, v []byte) {
		w.st.stateEntry(kindKCP, id == b.id, v, recvUnix, measuring)
	})
	if err != nil {
		w.st.c.ParseErrs++
		return
	}
	if b.lastFrame != 0 {
		if measuring {
			d := now - b.lastFrame - w.period
			w.st.jitter.record(time.Duration(max(d, -d)))
		}
		if tk > b.lastTick+1 {
			w.st.c.TickGaps += tk - b.lastTick - 1
		}
	}
	b.lastFrame, b.lastTick = now, tk
	if inRoom && tk > b.stateTick && w.statesOnFrames() {
		b.stateTick, b.stateOwed = tk, true
	}
}

func (w *worker) closeFDs() {
	if w.sock != nil {
		w.sock.close()
	}
}
