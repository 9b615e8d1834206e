package conformance

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// KCPOptions configures a KCP connection; zero fields take defaults.
type KCPOptions struct {
	KCP  KCPConfig
	Conv uint32 // conversation id; 0 picks a random one (section 1)
	// MaxFrame is the largest server frame body accepted; default 8 MiB
	// (section 2: a room's snapshot can be large).
	MaxFrame int
	// Hooks for tests of the wire, called under the connection's lock with
	// each datagram: DropOut and DropIn drop it when they return true, Tap
	// sees every datagram that is sent or taken (out reports the
	// direction). The datagram must not be kept after the call returns
	// unless copied.
	DropOut func(d []byte) bool
	DropIn  func(d []byte) bool
	Tap     func(out bool, d []byte)
}

// KCPConn is a client connection over KCP and UDP: the Transport of
// PROTOCOL.md sections 1 and 2. It owns two goroutines, a reader and a
// 10 ms updater (KCP's resend clock), both ended by Close.
type KCPConn struct {
	pc    *net.UDPConn
	opt   KCPOptions
	start time.Time

	mu           sync.Mutex // guards the fields below and the KCP state
	kcp          *KCP
	stream       []byte   // received stream bytes not yet cut into frames
	bodies       [][]byte // cut frames not yet taken by Recv
	err          error    // why receiving stopped
	protoErrs    []error  // datagrams the KCP state machine refused
	cut, stalled bool
	closed       bool

	notify    chan struct{} // a body arrived or receiving failed
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// maxQueuedBodies bounds the bodies waiting for Recv; beyond it the
// connection stops taking messages from KCP, whose window then closes.
const maxQueuedBodies = 4096

// DialKCP opens a KCP conversation with the relay at addr, which must be a
// loopback address: the suite sends nothing anywhere else.
func DialKCP(addr string, opt KCPOptions) (*KCPConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	if !raddr.IP.IsLoopback() {
		return nil, fmt.Errorf("conformance: %s is not a loopback address", addr)
	}
	pc, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	if opt.Conv == 0 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		opt.Conv = max(1, binary.LittleEndian.Uint32(b[:]))
	}
	if opt.MaxFrame <= 0 {
		opt.MaxFrame = 8 << 20
	}
	c := &KCPConn{pc: pc, opt: opt, start: time.Now(), notify: make(chan struct{}, 1), done: make(chan struct{})}
	c.kcp = NewKCP(opt.Conv, opt.KCP, c.output)
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.readLoop() }()
	go func() { defer c.wg.Done(); c.updateLoop() }()
	return c, nil
}

// Conv is the conversation id.
func (c *KCPConn) Conv() uint32 { return c.opt.Conv }

// LocalAddr is the client's UDP address.
func (c *KCPConn) LocalAddr() net.Addr { return c.pc.LocalAddr() }

// now is the KCP clock: ms since the connection began.
func (c *KCPConn) now() uint32 { return uint32(time.Since(c.start).Milliseconds()) + 1 }

// output is KCP's datagram callback, called under c.mu.
func (c *KCPConn) output(d []byte) {
	if c.cut || c.closed || (c.opt.DropOut != nil && c.opt.DropOut(d)) {
		return
	}
	if c.opt.Tap != nil {
		c.opt.Tap(true, d)
	}
	_, _ = c.pc.Write(d) // a lost datagram is what KCP resends
}

func (c *KCPConn) readLoop() {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.pc.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. an ICMP port unreachable once the server is gone
		}
		c.input(buf[:n])
	}
}

func (c *KCPConn) input(d []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut || c.closed || (c.opt.DropIn != nil && c.opt.DropIn(d)) {
		return
	}
	if c.opt.Tap != nil {
		c.opt.Tap(false, d)
	}
	now := c.now()
	if err := c.kcp.Input(d, now); err != nil {
		c.protoErrs = append(c.protoErrs, err)
	}
	c.kcp.Flush(now) // acknowledge at once
	c.pumpLocked()
}

func (c *KCPConn) updateLoop() {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		c.mu.Lock()
		if !c.cut && !c.closed {
			c.kcp.Flush(c.now())
		}
		c.mu.Unlock()
	}
}

// pumpLocked moves complete KCP messages into the stream and cuts frames
// out of it (section 1: the KCP data is a byte stream).
func (c *KCPConn) pumpLocked() {
	got := false
	for !c.stalled && c.err == nil && len(c.bodies) < maxQueuedBodies {
		msg := c.kcp.Recv()
		if msg == nil {
			break
		}
		c.stream = append(c.stream, msg...)
		for len(c.stream) >= 4 {
			n := binary.BigEndian.Uint32(c.stream)
			if n == 0 || uint64(n) > uint64(c.opt.MaxFrame) {
				c.err = fmt.Errorf("conformance: server frame declares %d bytes (limit %d)", n, c.opt.MaxFrame)
				break
			}
			if uint64(len(c.stream)-4) < uint64(n) {
				break
			}
			c.bodies = append(c.bodies, slices.Clone(c.stream[4:4+n]))
			c.stream = c.stream[4+n:]
			got = true
		}
	}
	if len(c.stream) == 0 {
		c.stream = nil // let a large frame's buffer go
	}
	if got || c.err != nil {
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}

// Send implements Transport: body goes with its length prefix.
func (c *KCPConn) Send(body []byte) error { return c.SendStream(Framed(body)) }

// SendStream writes b to the KCP byte stream as it is, in messages of at
// most 64 segments.
func (c *KCPConn) SendStream(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.cut {
		return nil // the network is gone: it would never arrive
	}
	chunk := 64 * c.kcp.MSS()
	for len(b) > 0 {
		n := min(len(b), chunk)
		if err := c.kcp.Send(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	c.kcp.Flush(c.now())
	return nil
}

// SendMessage queues one KCP message exactly as given (fragmented as ikcp
// does when it is over one segment).
func (c *KCPConn) SendMessage(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if err := c.kcp.Send(msg); err != nil {
		return err
	}
	c.kcp.Flush(c.now())
	return nil
}

// SendDatagram sends d on the connection's socket, outside KCP.
func (c *KCPConn) SendDatagram(d []byte) error {
	_, err := c.pc.Write(d)
	return err
}

// Recv implements Transport.
func (c *KCPConn) Recv(deadline time.Time) ([]byte, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		switch {
		case len(c.bodies) > 0:
			b := c.bodies[0]
			c.bodies[0] = nil
			c.bodies = c.bodies[1:]
			c.pumpLocked()
			c.mu.Unlock()
			return b, nil
		case c.closed:
			c.mu.Unlock()
			return nil, ErrClosed
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return nil, err
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.done:
		case <-timer.C:
			return nil, ErrTimeout
		}
	}
}

// Cut implements Transport.
func (c *KCPConn) Cut() {
	c.mu.Lock()
	c.cut = true
	c.mu.Unlock()
}

// Stall implements Staller: KCP keeps acknowledging what its receive
// window holds, and its window closes as messages pile up.
func (c *KCPConn) Stall(stalled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stalled = stalled
	if !stalled {
		c.pumpLocked()
		if !c.cut && !c.closed {
			c.kcp.Flush(c.now())
		}
	}
}

// Resent is how many segments this side sent again after its resend time.
func (c *KCPConn) Resent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kcp.Resent
}

// ProtocolErrors returns the datagrams' errors the KCP state machine
// reported (a wrong conv, a bad segment length, an unknown command).
func (c *KCPConn) ProtocolErrors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.protoErrs)
}

// Close implements Transport. It stops both goroutines.
func (c *KCPConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.done)
		c.pc.Close()
		c.wg.Wait()
	})
	return nil
}
