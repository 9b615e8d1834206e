// Package client is a Go client for the relay: for tests, bots, load
// generators and headless game clients. It speaks the protocol in
// PROTOCOL.md over a kcp-go session and keeps a view of the current room.
package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/dflt"
)

// Options configure Dial. Zero fields take their defaults.
type Options struct {
	Name         string
	Props        map[string]any // player properties, encoded with msgpack
	AuthToken    string         // a token from the game's backend, for servers that need one
	PingInterval time.Duration  // keeps the session alive; default 1 s
	MTU          int            // default 1200
	Window       int            // KCP send and receive window; default 128
	QueueSize    int            // frames and notices buffered for Messages; default 4096
	MaxFrameSize int            // largest server message accepted; default 4 MiB
}

// Error is an error reply or close reason from the server.
type Error struct {
	Code    codec.Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("relay: %s: %s", e.Code, e.Message) }

// ErrClosed is returned by operations on a closed client that the server
// did not close with a reason.
var ErrClosed = errors.New("relay client: closed")

// Welcome is what the server said on connecting.
type Welcome struct {
	PlayerID     uint32
	ResumeToken  string
	TickRate     int
	ServerTimeMs int64
	Tick         uint64
	Resumed      bool   // this connection took over a lost one
	RoomID       uint32 // on a resume: the room the player is still in
}

// Client is one connection to a relay. Its methods are safe for concurrent
// use. Every frame and unsolicited notice is delivered, in order, on
// Messages; the reader waits when that queue is full, so a client that does
// not drain it falls behind like a stalled game would.
type Client struct {
	addr    string // guarded by wmu
	opt     Options
	id      atomic.Uint32 // changes when a redirect moves the client to another node
	msgs    chan *codec.ServerMsg
	msgOnce sync.Once
	rid     atomic.Uint32
	done    chan struct{}
	wg      sync.WaitGroup
	wmu     sync.Mutex // serialises writes so frames never interleave
	wbuf    []byte     // guarded by wmu
	conn    wire       // guarded by wmu; replaced by Reconnect

	// dmu is held while a frame is delivered (its generation checked, the
	// frame queued on Messages, delivered updated) and while Drop or
	// Reconnect moves to a new generation: a resume then names exactly
	// the last frame the application got, and no frame of the old
	// connection is delivered after it.
	dmu sync.Mutex

	mu        sync.Mutex // guards the fields below
	pending   map[uint32]chan *codec.ServerMsg
	pings     map[int64]chan *codec.ServerMsg
	welcome   Welcome
	gen       int    // connection generation: a reader of an older one exits quietly
	delivered uint64 // tick of the last frame fully delivered to Messages
	view      RoomView
	party     Party
	changed   chan struct{} // closed and replaced on every frame
	closeErr  error
	closed    bool
}

// Dial connects to a relay at addr and completes the handshake, or fails
// when ctx ends. addr is "host:port" for KCP over UDP, or a ws:// or
// wss:// URL for WebSocket (the relay serves it on the same port number,
// over TCP, at path "/").
func Dial(ctx context.Context, addr string, opt Options) (*Client, error) {
	c := &Client{
		addr:    addr,
		opt:     opt,
		msgs:    make(chan *codec.ServerMsg, dflt.Or(opt.QueueSize, 4096)),
		done:    make(chan struct{}),
		pending: make(map[uint32]chan *codec.ServerMsg),
		pings:   make(map[int64]chan *codec.ServerMsg),
		changed: make(chan struct{}),
	}
	props, err := encodeProps(opt.Props)
	if err != nil {
		return nil, err
	}
	w, err := c.handshake(ctx, &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion,
		Name: []byte(opt.Name), Props: props, Auth: []byte(opt.AuthToken)})
	if err != nil {
		c.Close()
		return nil, err
	}
	c.id.Store(w.PlayerID)
	interval := opt.PingInterval
	if interval <= 0 {
		interval = time.Second
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.keepAlive(interval) }()
	return c, nil
}

// handshake opens a new connection, starts its reader, sends hello and
// waits for the welcome.
func (c *Client) handshake(ctx context.Context, hello *codec.ClientMsg) (Welcome, error) {
	c.wmu.Lock()
	addr := c.addr
	c.wmu.Unlock()
	conn, err := dialWire(ctx, addr, c.opt)
	if err != nil {
		return Welcome{}, err
	}
	welcome := make(chan *codec.ServerMsg, 1)
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.pending[0] = welcome
	c.mu.Unlock()
	c.wmu.Lock()
	c.conn = conn
	c.wmu.Unlock()
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.readLoop(conn, gen) }()
	if err := c.send(hello); err != nil {
		// A relay that refuses the connection (server_full, banned) says
		// why and closes it, perhaps before the hello went out: the
		// reader has its close message, or gets it soon.
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-c.done:
			var re *Error
			if errors.As(c.Err(), &re) {
				return Welcome{}, re
			}
		case <-t.C:
		case <-ctx.Done():
		}
		return Welcome{}, err
	}
	select {
	case m := <-welcome:
		conn.welcomed(m.TickRate)
		wl := Welcome{PlayerID: m.PlayerID, ResumeToken: m.ResumeToken, TickRate: m.TickRate,
			ServerTimeMs: m.ServerTimeMs, Tick: m.Tick, Resumed: m.Resumed, RoomID: m.RoomID}
		c.mu.Lock()
		c.welcome = wl
		c.mu.Unlock()
		return wl, nil
	case <-c.done:
		return Welcome{}, c.Err()
	case <-ctx.Done():
		return Welcome{}, ctx.Err()
	}
}

// Reconnect resumes this player on a new connection (a new source port),
// as a game does after its network changed: same player id, same room, a
// full snapshot, and every event and chat line the old connection missed,
// once. If the server refuses, the client is closed with the reason.
// A frame being handed to Messages is delivered first (Reconnect waits for
// the application to take it), so that the resume starts right after it.
func (c *Client) Reconnect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.closeErr
	}
	c.mu.Unlock()
	var token string
	var last uint64
	c.retire(func() { token, last = c.welcome.ResumeToken, c.delivered })
	_, err := c.handshake(ctx, &codec.ClientMsg{Type: codec.THello, Version: codec.ProtocolVersion,
		Name: []byte(c.opt.Name), Auth: []byte(c.opt.AuthToken), Resume: []byte(token), LastTick: last})
	if err != nil {
		c.shut(err)
	}
	return err
}

// retire ends the current connection: its reader exits quietly from now
// on (a new generation), and it is closed. under runs under c.mu in the
// same step, after any frame being delivered, to read or reset what the
// next connection starts from.
func (c *Client) retire(under func()) { c.retireConn(under, false) }

// retireConn is retire; with bye (the connection's last message was a
// bye), the connection is left to end when the relay has it (wire.leave).
func (c *Client) retireConn(under func(), bye bool) {
	c.dmu.Lock()
	c.mu.Lock()
	under()
	c.gen++
	c.mu.Unlock()
	c.dmu.Unlock()
	c.wmu.Lock()
	old := c.conn
	c.wmu.Unlock()
	if bye {
		old.leave(byeLinger)
	} else {
		old.close()
	}
}

// ReconnectTo is Reconnect through another address: another relay
// address, or the other transport ("host:port" for KCP, a ws:// URL for
// WebSocket). The player, its room and what it missed carry over.
func (c *Client) ReconnectTo(ctx context.Context, addr string) error {
	c.wmu.Lock()
	c.addr = addr
	c.wmu.Unlock()
	return c.Reconnect(ctx)
}

// Drop closes the connection without a goodbye and without closing the
// client, as a lost network would; Reconnect resumes. For tests.
func (c *Client) Drop() { c.retire(func() {}) }

// Welcome returns the server's latest welcome.
func (c *Client) Welcome() Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// ID is this client's player id; it survives a Reconnect.
func (c *Client) ID() uint32 { return c.id.Load() }

// Messages delivers frames (after they are applied to the room view),
// room_left notices, unsolicited errors and the final close, in order.
func (c *Client) Messages() <-chan *codec.ServerMsg { return c.msgs }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended: an *Error with the server's reason, or
// ErrClosed. Nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// awaitBye waits until the relay answered the bye just sent (its close
// message ends the client), byeLinger at most: a connection closed at once
// can lose the bye (see wire.leave), and the relay would keep the player
// for a resume.
func (c *Client) awaitBye() {
	t := time.NewTimer(byeLinger)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
}

// Close says bye, waits for the relay's answer (a tick and a round trip;
// 250 ms at most), closes the connection and waits for its goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.mu.Unlock()
	if first && c.send(&codec.ClientMsg{Type: codec.TBye}) == nil {
		c.awaitBye()
	}
	c.shut(ErrClosed)
	c.wg.Wait()
	c.msgOnce.Do(func() { close(c.msgs) })
	return nil
}

func (c *Client) shut(reason error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = reason
	c.mu.Unlock()
	close(c.done)
	c.wmu.Lock()
	if c.conn != nil {
		c.conn.close()
	}
	c.wmu.Unlock()
}

func (c *Client) send(m *codec.ClientMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.conn == nil {
		return ErrClosed
	}
	c.wbuf = codec.AppendClient(c.wbuf[:0], m)
	return c.conn.write(c.wbuf)
}

// SendRaw writes bytes as they are, for tests of hostile input.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.write(b)
}

func (c *Client) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.mu.Lock()
			acked := c.delivered
			c.mu.Unlock()
			// A failed ping is not fatal: the connection may be between a
			// Drop and a Reconnect.
			_ = c.send(&codec.ClientMsg{Type: codec.TPing, ClientTime: time.Now().UnixNano(), AckedTick: acked})
		case <-c.done:
			return
		}
	}
}

// request sends m with a fresh request id and waits for its reply.
func (c *Client) request(ctx context.Context, m *codec.ClientMsg) (*codec.ServerMsg, error) {
	m.RID = c.rid.Add(1)
	ch := make(chan *codec.ServerMsg, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.Err()
	}
	c.pending[m.RID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, m.RID)
		c.mu.Unlock()
	}()
	if err := c.send(m); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Type == codec.TError {
			return nil, &Error{Code: r.Code, Message: r.Message}
		}
		return r, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func encodeProps(props map[string]any) ([]codec.Prop, error) {
	if props == nil {
		return nil, nil
	}
	out := make([]codec.Prop, 0, len(props))
	for k, v := range props {
		b, err := Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
		out = append(out, codec.Prop{Key: []byte(k), Value: b})
	}
	return out, nil
}

// Marshal encodes v as msgpack the way the relay's clients do: integers in
// their smallest form, so that equal values have equal bytes (room
// filters compare bytes).
func Marshal(v any) ([]byte, error) {
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	var buf bytesBuffer
	enc.Reset(&buf)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.b, nil
}

// Unmarshal decodes a state, property or payload value into v.
func Unmarshal(data []byte, v any) error { return msgpack.Unmarshal(data, v) }

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
