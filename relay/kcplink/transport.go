package kcplink

import (
	"container/heap"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/internal/dflt"
	"github.com/tickrelay/tickrelay/internal/kcpx"
	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/link"
	"github.com/tickrelay/tickrelay/tick"
)

// Transport is the relay's KCP session layer on one UDP socket: one reader
// goroutine (recvmmsg, demultiplexing by source address into each session's
// KCP) and one updater goroutine (a min-heap of sessions keyed by when they
// next have something to send on their own: a resend, held acks; a session
// with nothing due is not in it). All output goes through one batch, sent
// with sendmmsg across sessions. Times are kcp-go's milliseconds (kcpNow).
type Transport struct {
	pc  net.PacketConn
	io  packetIO
	adm *admission
	acc link.Acceptor
	out outBatch

	// KCP settings.
	mtu, sndWnd, rcvWnd, interval, resend, nc int
	maxInFlight, minRTO                       int
	mss                                       int
	// Message settings.
	maxFrame, inboxSize int

	mu       sync.Mutex // guards sessions
	sessions map[netip.AddrPort]*session

	hmu      sync.Mutex // guards the heap, armed and armedSet; taken under a session's mu, never the reverse
	heap     sessHeap
	armed    uint32 // due time the updater sleeps until, if armedSet
	armedSet bool
	wake     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	readErr error // set by the reader before it returns

	// nextTick is when (kcpNow) the tick after the current one is due,
	// plus a margin: acks for what a client sends wait for it, so that
	// they ride in the datagram carrying the client's next frame instead
	// of travelling alone.
	nextTick atomic.Uint32
}

// ackDelay is how long input's acks may wait: until just after the next
// tick, at least one KCP interval and at most maxAckHold ms.
func (t *Transport) ackDelay(now uint32) int {
	d := int(int32(t.nextTick.Load() - now))
	return max(t.interval, min(d, maxAckHold))
}

const maxAckHold = 50

// DefaultMinRTO is Config.MinRTO's default for a tick rate (0: the default
// rate): kcp-go's own bound in no-delay mode, plus the tick that a client's
// acks may wait for its next state.
func DefaultMinRTO(tickRate int) int {
	rate, err := tick.ResolveRate(tickRate)
	if err != nil {
		rate = 30 // the relay refuses the rate before sessions exist
	}
	return int(kcpx.MinRTOForTick(rate))
}

// New returns a transport serving pc. quota is the admission budget shared
// with the relay's other transports (nil: one of its own with cfg's caps);
// new sessions go to acc. Start it with Start.
func New(pc net.PacketConn, cfg Config, quota *admit.Quota, acc link.Acceptor) *Transport {
	c := cfg
	if quota == nil {
		quota = admit.New(admit.Config{})
	}
	t := &Transport{
		pc:          pc,
		acc:         acc,
		mtu:         dflt.Or(c.MTU, 1200),
		sndWnd:      dflt.Or(c.SendWindow, 128),
		rcvWnd:      dflt.Or(c.RecvWindow, 128),
		interval:    dflt.Or(c.Interval, 10),
		resend:      dflt.Or(c.Resend, 2),
		minRTO:      dflt.Or(c.MinRTO, DefaultMinRTO(c.TickRate)),
		maxInFlight: min(dflt.Or(c.MaxInFlight, 8), maxInFlightCap),
		maxFrame:    dflt.Or(c.MaxFrameSize, 16<<10),
		inboxSize:   dflt.Or(c.InboxSize, 64),
		nc:          1,
		sessions:    make(map[netip.AddrPort]*session),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if c.Resend < 0 {
		t.resend = 0
	}
	if c.Congestion {
		t.nc = 0
	}
	t.mss = t.mtu - kcp.IKCP_OVERHEAD
	t.adm = newAdmissionQuota(filterConfig{
		pendingTimeout: dflt.Or(c.HandshakeTimeout, 5*time.Second),
		maxFrameSize:   t.maxFrame,
	}, quota)
	if pc != nil {
		setSocketBuffers(pc, dflt.Or(c.SocketBuffer, 4<<20))
		t.io = newPacketIO(pc)
	}
	t.out = outBatch{io: t.io, adm: t.adm}
	return t
}

func (t *Transport) configure(k *kcp.KCP) {
	k.NoDelay(1, t.interval, t.resend, t.nc)
	k.WndSize(t.sndWnd, t.rcvWnd)
	k.SetMtu(t.mtu)
	kcpx.Trim(k, t.mtu)
	kcpx.SetMinRTO(k, uint32(t.minRTO))
}

// Start launches the reader and the updater; wg owns them. The returned
// channel is closed when the reader stops (the socket closed or failed).
func (t *Transport) Start(wg *sync.WaitGroup) <-chan struct{} {
	readerDone := make(chan struct{})
	wg.Add(2)
	go func() { defer wg.Done(); defer close(readerDone); t.readLoop() }()
	go func() { defer wg.Done(); t.updateLoop() }()
	return readerDone
}

// Err is why the reader stopped when it was not Stop: a broken socket.
// Call it after the channel from Start is closed.
func (t *Transport) Err() error {
	select {
	case <-t.done:
		return nil
	default:
		return t.readErr
	}
}

// Stop ends both goroutines (the socket is closed, which ends the reader)
// and closes every session without a goodbye.
func (t *Transport) Stop() {
	t.stopOnce.Do(func() {
		close(t.done)
		t.pc.Close()
		t.out.close() // later flushes by the updater or the tick send nothing
		t.mu.Lock()
		open := make([]*session, 0, len(t.sessions))
		for _, s := range t.sessions {
			open = append(open, s)
		}
		t.mu.Unlock()
		for _, s := range open {
			s.close()
		}
	})
}

// BeginTick tells the transport that a tick started and when the next one
// is due (after, from now): acks for what clients send wait until just
// after it, to ride with their next frame.
func (t *Transport) BeginTick(after time.Duration) {
	t.nextTick.Store(kcpx.Now() + uint32(after/time.Millisecond))
}

// EndTick sends what the tick's frames put in the output batch, across
// sessions.
func (t *Transport) EndTick() { t.out.flush() }

// Stats returns the datagram filter's counters.
func (t *Transport) Stats() FilterStats { return t.adm.stats() }

func (t *Transport) readLoop() {
	fn := t.datagram
	for {
		if err := t.io.read(fn); err != nil {
			if t.readFailed(err) {
				return
			}
			continue
		}
		t.out.flush()
		// Under steady input the socket is never empty, so the reader
		// would not park and a due tick (with GOMAXPROCS=1) would wait
		// for the runtime's 10 ms preemption: yield between batches.
		runtime.Gosched()
	}
}

// readFailed reports whether the reader must stop.
func (t *Transport) readFailed(err error) bool {
	select {
	case <-t.done:
		return true
	default:
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	t.readErr = err // closed, or broken: stop (Serve reports it)
	return true
}

// datagram admits, demultiplexes and inputs one datagram from raw.
func (t *Transport) datagram(b []byte, raw netip.AddrPort) {
	key := normKey(raw)
	t.mu.Lock()
	s := t.sessions[key]
	t.mu.Unlock()
	if s != nil {
		// The common case, every datagram of a live session: the
		// admission table would only repeat the session's conv check,
		// under its lock and after reading the clock.
		r, ok := checkKnown(b, s.conn.conv)
		t.adm.count(r, ok, len(b))
		if ok {
			s.input(b)
		}
		return
	}
	if ok, answer := t.adm.admit(b, key); !ok {
		if answer != 0 && t.adm.allowReply() {
			t.replyRefusal(b, raw, answer)
		}
		return
	}
	// Only a hello the filter admitted opens a session.
	c, ok := classifyHello(b, t.adm.cfg.maxFrameSize)
	if !ok {
		return
	}
	s = newSession(t, key, raw, c)
	t.mu.Lock()
	t.sessions[key] = s
	t.mu.Unlock()
	if !t.acc.Accept(s) {
		s.close()
		return
	}
	atomic.AddUint64(&kcp.DefaultSnmp.PassiveOpens, 1)
	s.input(b)
}

// remove forgets a closed session.
func (t *Transport) remove(s *session) {
	t.mu.Lock()
	if t.sessions[s.key] == s {
		delete(t.sessions, s.key)
		t.adm.forgetKey(s.key)
	}
	t.mu.Unlock()
	t.hmu.Lock()
	if s.hidx >= 0 {
		heap.Remove(&t.heap, s.hidx)
	}
	t.hmu.Unlock()
}

// checkDelay is how many ms until kcp-go's Check wants an Update, at most
// one interval: the fallback when kcpx.ResendIn cannot read the send buffer.
func (t *Transport) checkDelay(k *kcp.KCP, now uint32) int {
	d := int(int32(k.Check() - now))
	return max(0, min(d, t.interval))
}

// schedule makes sure s is updated within delay ms of now (kcpx.Now); a
// negative delay asks for nothing.
func (t *Transport) schedule(s *session, delay int, now uint32) {
	if delay < 0 {
		return
	}
	due := now + uint32(delay)
	t.hmu.Lock()
	switch {
	case s.hidx < 0:
		s.due = due
		heap.Push(&t.heap, s)
	case kcpx.Before(due, s.due):
		s.due = due
		heap.Fix(&t.heap, s.hidx)
	}
	t.armLocked(due)
	t.hmu.Unlock()
}

// reschedule sets s's due time to exactly delay ms from now (negative:
// none). The tick calls it under s.mu after sending a frame, when delay is
// all s has left to do: a session that gets a frame every tick would
// otherwise keep a wake-up for its previous frame's resend in the heap,
// which the frame's ack has made moot, and the updater would pop, check and
// re-insert every such session once per tick for nothing.
func (t *Transport) reschedule(s *session, delay int, now uint32) {
	t.hmu.Lock()
	defer t.hmu.Unlock()
	switch {
	case delay < 0 && s.hidx >= 0:
		heap.Remove(&t.heap, s.hidx)
	case delay < 0:
	case s.hidx < 0:
		s.due = now + uint32(delay)
		heap.Push(&t.heap, s)
	default:
		s.due = now + uint32(delay)
		heap.Fix(&t.heap, s.hidx)
	}
	if delay >= 0 {
		t.armLocked(s.due)
	}
}

// armLocked wakes the updater if it sleeps past due. The wake-up never
// blocks, so t.hmu may be held (it must be, for armed and armedSet).
func (t *Transport) armLocked(due uint32) {
	if t.armedSet && !kcpx.Before(due, t.armed) {
		return
	}
	t.armed, t.armedSet = due, true
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Transport) updateLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*session
	for {
		now := kcpx.Now()
		t.hmu.Lock()
		for len(t.heap) > 0 && !kcpx.Before(now, t.heap[0].due) {
			due = append(due, heap.Pop(&t.heap).(*session))
		}
		wait := -1
		if len(t.heap) > 0 {
			wait = int(int32(t.heap[0].due - now))
		}
		if len(due) == 0 {
			t.armedSet = wait >= 0
			if t.armedSet {
				t.armed = t.heap[0].due
			}
		}
		t.hmu.Unlock()

		if len(due) > 0 {
			for i, s := range due {
				t.update(s)
				if i%128 == 127 {
					runtime.Gosched() // let a due tick start (see readLoop)
				}
			}
			clear(due)
			due = due[:0]
			t.out.flush()
			continue
		}
		if wait >= 0 {
			timer.Reset(time.Duration(wait) * time.Millisecond)
		}
		select {
		case <-t.done:
			return
		case <-t.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// update flushes s if something is due and reschedules it for what is
// left (a session with nothing due leaves the heap until its next input or
// send). A session is often woken for a resend that its acks have made
// moot since: then it costs a look at its send buffer, not a flush.
func (t *Transport) update(s *session) {
	now := kcpx.Now()
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	delay := s.dueInLocked(now)
	if delay == 0 {
		// Resends, a probe, or acks whose time is up. Acks that are not
		// due wait for the next frame, as they do when Input makes them.
		s.holdAcks = !s.flushSet || kcpx.Before(now, s.flushBy)
		s.flushLocked(false, now)
		s.holdAcks = false
		delay = s.dueInLocked(now)
		if delay == 0 {
			delay = 1 // what the flush could not send (a closed window) waits
		}
	}
	s.mu.Unlock()
	t.schedule(s, delay, now)
}

// sessHeap is a min-heap of sessions by due time.
type sessHeap []*session

func (h sessHeap) Len() int           { return len(h) }
func (h sessHeap) Less(i, j int) bool { return kcpx.Before(h[i].due, h[j].due) }
func (h sessHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *sessHeap) Push(x any) {
	s := x.(*session)
	s.hidx = len(*h)
	*h = append(*h, s)
}
func (h *sessHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.hidx = -1
	return s
}
