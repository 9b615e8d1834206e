package wslink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/link"
)

// conn is one WebSocket client: a link.Link. Its reader runs in the HTTP
// handler's goroutine and its writer in a goroutine of its own; the tick
// only queues and takes, never waits on the socket.
type conn struct {
	t      *Transport
	remote netip.AddrPort
	ip     netip.Addr
	ws     *websocket.Conn
	tcp    *net.TCPConn    // the connection under ws, for its round trip; nil if unknown
	ctx    context.Context // ends when the connection is aborted
	cancel context.CancelFunc

	lastHeard atomic.Int64 // Unix ns: any frame, pings and pongs included
	lastMsg   atomic.Int64 // Unix ns: the last whole message
	closed    atomic.Bool  // the connection ended (read failed or aborted)

	mu     sync.Mutex // guards the fields below
	inbox  []link.Inbound
	failed bool          // a failure was queued: nothing more is read
	outq   []*[]byte     // output buffers waiting for the writer, oldest first
	ending bool          // Close was called: the writer sends what is queued, then closes
	estab  bool          // the hello was accepted: established in the quota
	gone   bool          // released from the quota: nothing may be counted any more
	space  chan struct{} // the reader waits here for room in the inbox
	wake   chan struct{} // the writer waits here for output or Close

	releaseOnce sync.Once
}

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (c *conn) init(ws *websocket.Conn) {
	c.ws = ws
	// The transport reads with its own bound (readBody): the library's
	// limit would close the connection before the protocol could say why.
	ws.SetReadLimit(-1)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.space = make(chan struct{}, 1)
	c.wake = make(chan struct{}, 1)
	now := time.Now().UnixNano()
	c.lastHeard.Store(now)
	c.lastMsg.Store(now)
}

func (c *conn) heard() { c.lastHeard.Store(time.Now().UnixNano()) }

// readLoop reads messages into the inbox until the connection ends or a
// message is refused.
func (c *conn) readLoop() {
	defer c.finish()
	max := c.t.cfg.MaxFrameSize
	// One timer for the connection: armed while a message is arriving, it
	// aborts a message that takes too long (a flood of tiny fragments).
	watchdog := time.AfterFunc(time.Hour, c.abort)
	watchdog.Stop()
	defer watchdog.Stop()
	for {
		if !c.waitForRoom() {
			return
		}
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			return // closed by the peer, the network, or abort
		}
		c.heard()
		watchdog.Reset(c.t.cfg.MessageTimeout)
		if typ != websocket.MessageBinary {
			watchdog.Stop()
			c.t.stats.refusedText.Add(1)
			c.fail(codec.CodeMalformed, "text messages are not part of the protocol: send binary messages")
			return
		}
		bp := link.GetBody()
		body, err := readBody(r, *bp, max)
		watchdog.Stop()
		*bp = body
		switch {
		case errors.Is(err, errTooLarge):
			link.PutBody(bp)
			c.t.stats.refusedLarge.Add(1)
			c.fail(codec.CodeFrameTooLarge, fmt.Sprintf("%v: a message over %d bytes", codec.ErrFrameTooLarge, max))
			return
		case err != nil:
			link.PutBody(bp)
			return
		case len(body) == 0:
			link.PutBody(bp)
			c.fail(codec.CodeMalformed, codec.ErrEmptyFrame.Error())
			return
		}
		now := time.Now()
		c.heard()
		c.lastMsg.Store(now.UnixNano())
		c.mu.Lock()
		c.inbox = append(c.inbox, link.Inbound{Body: bp, Arrived: now})
		c.mu.Unlock()
	}
}

var errTooLarge = errors.New("message too large")

// readBody reads one message into b (from len 0), refusing it once it is
// over max bytes: memory is bounded by max whatever the frames declare.
func readBody(r io.Reader, b []byte, limit int) ([]byte, error) {
	b = b[:0]
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				return b, errTooLarge
			}
			nb := make([]byte, len(b), min(max(2*cap(b), 512), limit+1))
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return b, errTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// waitForRoom blocks while the inbox is full; false when the connection
// ended.
func (c *conn) waitForRoom() bool {
	for {
		c.mu.Lock()
		full := len(c.inbox) >= c.t.cfg.InboxSize
		c.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-c.space:
		case <-c.ctx.Done():
			return false
		}
	}
}

// fail queues why reading stopped, for the tick to close the session with.
func (c *conn) fail(code codec.Code, reason string) {
	c.mu.Lock()
	c.failed = true
	c.inbox = append(c.inbox, link.Inbound{Code: code, Reason: reason})
	c.mu.Unlock()
}

// finish runs when the reader returns. A connection whose reading failed
// stays open for its close message; one that ended is closed.
func (c *conn) finish() {
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	if !failed {
		c.abort()
		return
	}
	// Wait for the tick to close it (after the close message) or for the
	// transport to stop.
	<-c.ctx.Done()
}

// writeLoop sends queued output, one WebSocket message per protocol
// message, until the link is closed.
func (c *conn) writeLoop() {
	defer c.release()
	for {
		c.mu.Lock()
		var b *[]byte
		if len(c.outq) > 0 {
			b = c.outq[0]
			c.outq[0] = nil
			c.outq = c.outq[1:]
		}
		ending := c.ending
		c.mu.Unlock()
		if b == nil {
			if ending {
				c.closeGracefully()
				return
			}
			select {
			case <-c.wake:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		err := c.writeFrames(*b)
		*b = (*b)[:0]
		outPool.Put(b)
		if err != nil {
			c.abort()
			return
		}
	}
}

// writeFrames writes each length-prefixed message in b as one binary
// WebSocket message, without its prefix.
func (c *conn) writeFrames(b []byte) error {
	for len(b) >= codec.FrameHeaderSize {
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-codec.FrameHeaderSize {
			return errors.New("wslink: truncated output")
		}
		body := b[codec.FrameHeaderSize : codec.FrameHeaderSize+n]
		if err := c.ws.Write(c.ctx, websocket.MessageBinary, body); err != nil {
			return err
		}
		c.t.stats.messagesOut.Add(1)
		c.t.stats.bytesOut.Add(uint64(n))
		b = b[codec.FrameHeaderSize+n:]
	}
	return nil
}

// closeGracefully ends the WebSocket with a close handshake, bounded by
// the library's own timeout.
func (c *conn) closeGracefully() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	c.abort()
}

// abort ends the connection at once.
func (c *conn) abort() {
	c.closed.Store(true)
	if c.cancel != nil {
		c.cancel()
	}
	if c.ws != nil {
		_ = c.ws.CloseNow()
	}
}

// release gives the session back to the admission budget, once.
func (c *conn) release() {
	c.releaseOnce.Do(func() {
		c.t.forget(c)
		c.mu.Lock()
		c.gone = true
		c.t.quota.Release(c.ip, !c.estab)
		for _, b := range c.outq {
			if b != nil {
				outPool.Put(b)
			}
		}
		c.outq = nil
		c.mu.Unlock()
	})
}

// Take implements link.Link.
func (c *conn) Take(spare []link.Inbound) []link.Inbound {
	c.mu.Lock()
	items := c.inbox
	if cap(spare) > 64 {
		spare = nil
	}
	c.inbox = spare[:0]
	c.mu.Unlock()
	if len(items) > 0 {
		select {
		case c.space <- struct{}{}:
		default:
		}
	}
	return items
}

// Busy implements link.Link: output waits for a socket that does not take
// it (the client reads slowly, or its network stalled).
func (c *conn) Busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.outq) >= c.t.cfg.MaxQueued
}

// Send implements link.Link: b is copied to the writer's queue.
func (c *conn) Send(b []byte) {
	if c.closed.Load() {
		return
	}
	buf := outPool.Get().(*[]byte)
	*buf = append((*buf)[:0], b...)
	c.mu.Lock()
	if c.ending {
		c.mu.Unlock()
		outPool.Put(buf)
		return
	}
	c.outq = append(c.outq, buf)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closeGrace bounds how long a closing connection may take to deliver
// what is queued and finish the close handshake.
const closeGrace = 5 * time.Second

// Close implements link.Link: the writer sends what is queued (a close
// message), then closes the WebSocket; a client that does not read is cut
// off after closeGrace.
func (c *conn) Close() {
	c.mu.Lock()
	if c.ending {
		c.mu.Unlock()
		return
	}
	c.ending = true
	c.mu.Unlock()
	c.closed.Store(true)
	time.AfterFunc(closeGrace, c.abort)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Closed implements link.Link.
func (c *conn) Closed() bool { return c.closed.Load() }

// Heard implements link.Link.
func (c *conn) Heard() int64 { return c.lastHeard.Load() }

// LastMessage implements link.Link.
func (c *conn) LastMessage() int64 { return c.lastMsg.Load() }

// Established implements link.Link.
func (c *conn) Established() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.estab && !c.gone {
		c.estab = true
		c.t.quota.Establish(c.ip, true)
	}
}

// RTT is the round trip the kernel's TCP measured (0 if unknown).
func (c *conn) RTT() time.Duration {
	if c.tcp == nil {
		return 0
	}
	return tcpRTT(c.tcp)
}

// Remote implements link.Link.
func (c *conn) Remote() netip.AddrPort { return c.remote }

// Transport implements link.Link.
func (c *conn) Transport() string { return "ws" }

var _ link.Link = (*conn)(nil)
