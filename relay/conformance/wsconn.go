package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// WSOptions configure DialWS.
type WSOptions struct {
	// RecvBuffer, when set, is the socket's receive buffer in bytes: small
	// makes a stalled client soon stop the relay's writes.
	RecvBuffer int
}

// WSConn is a Transport over a WebSocket: each binary message is one body
// (PROTOCOL.md section 1, WebSocket). The handshake and framing are
// github.com/coder/websocket's; the protocol above them is the suite's own.
type WSConn struct {
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	queue   [][]byte
	err     error
	cut     bool
	stalled bool
	notify  chan struct{}
	resume  chan struct{}
	wg      sync.WaitGroup
}

// DialWS connects to the relay's WebSocket endpoint at rawURL (ws://).
func DialWS(rawURL string, opt WSOptions) (*WSConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("conformance: %s is not a loopback address", u.Host)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: smallRecvBuffer(opt.RecvBuffer)}}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, rawURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(8 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	c := &WSConn{ws: ws, ctx: ctx, cancel: cancel, notify: make(chan struct{}, 1), resume: make(chan struct{}, 1)}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.readLoop() }()
	return c, nil
}

func (c *WSConn) readLoop() {
	for {
		c.mu.Lock()
		stop := c.cut || c.stalled
		c.mu.Unlock()
		if stop {
			select {
			case <-c.resume:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		typ, b, err := c.ws.Read(c.ctx)
		c.mu.Lock()
		switch {
		case err != nil:
			c.err = err
		case typ != websocket.MessageBinary:
			c.err = errors.New("conformance: the relay sent a text message")
		case !c.cut:
			c.queue = append(c.queue, b)
		}
		failed := c.err != nil
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
		if failed {
			return
		}
	}
}

// Send implements Transport.
func (c *WSConn) Send(body []byte) error {
	c.mu.Lock()
	cut := c.cut
	c.mu.Unlock()
	if cut {
		return nil // lost on the way, as the network would
	}
	return c.ws.Write(c.ctx, websocket.MessageBinary, body)
}

// Recv implements Transport.
func (c *WSConn) Recv(deadline time.Time) ([]byte, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			b := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return b, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, ErrClosed
		}
		select {
		case <-c.notify:
		case <-timer.C:
			return nil, ErrTimeout
		}
	}
}

// Cut implements Transport: nothing more is sent or read. TCP below still
// acknowledges until its buffers fill, as a WebSocket client's kernel
// would for a frozen application.
func (c *WSConn) Cut() {
	c.mu.Lock()
	c.cut = true
	c.mu.Unlock()
}

// Stall implements Staller: the reader stops taking messages.
func (c *WSConn) Stall(stalled bool) {
	c.mu.Lock()
	c.stalled = stalled
	c.mu.Unlock()
	if !stalled {
		select {
		case c.resume <- struct{}{}:
		default:
		}
	}
}

// Close implements Transport.
func (c *WSConn) Close() error {
	c.cancel()
	err := c.ws.CloseNow()
	c.wg.Wait()
	return err
}

// smallRecvBuffer dials TCP with the socket's receive buffer set to n bytes
// (0: the system's default).
func smallRecvBuffer(n int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	if n > 0 {
		d.Control = recvBufferControl(n)
	}
	return d.DialContext
}
