package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coder/websocket"
	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/dflt"
	"github.com/tickrelay/tickrelay/internal/kcpx"
)

// wire is one connection to the relay, of either transport: it sends
// length-prefixed frames and returns message bodies.
type wire interface {
	// write sends b, one or more length-prefixed frames.
	write(b []byte) error
	// next returns the next message body; it is valid until the next call.
	next() ([]byte, error)
	// welcomed tunes the connection once the welcome gave the tick rate.
	welcomed(tickRate int)
	// leave ends the connection after a bye was written: it stays open
	// until its reader sees the relay's close, or for d at most. Closed at
	// once, the bye could be lost: KCP sends from a goroutine of its own
	// (and resends what is lost), and a TCP socket closed with data
	// unread is reset, which can discard what the relay had not read
	// yet. The relay would then keep the player for a resume.
	leave(d time.Duration)
	close() error
}

// byeLinger bounds how long a connection left with a bye waits for the
// relay's answer (a tick and a round trip, usually).
const byeLinger = 250 * time.Millisecond

// isWebSocket reports whether addr names a WebSocket URL.
func isWebSocket(addr string) bool {
	return strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://")
}

// dialWire opens a connection to addr: a ws:// or wss:// URL, or a
// "host:port" for KCP over UDP.
func dialWire(ctx context.Context, addr string, opt Options) (wire, error) {
	if isWebSocket(addr) {
		return dialWS(ctx, addr, opt)
	}
	conn, err := kcp.DialWithOptions(addr, nil, 0, 0)
	if err != nil {
		return nil, err
	}
	conn.SetNoDelay(1, 10, 2, 1)
	w := dflt.Or(opt.Window, 128)
	conn.SetWindowSize(w, w)
	conn.SetMtu(dflt.Or(opt.MTU, 1200))
	conn.SetWriteDelay(false)
	return &kcpWire{conn: conn, fr: codec.NewFrameReader(conn, dflt.Or(opt.MaxFrameSize, 4<<20))}, nil
}

// kcpWire is KCP over UDP: a byte stream of length-prefixed frames.
type kcpWire struct {
	conn *kcp.UDPSession
	fr   *codec.FrameReader
}

func (k *kcpWire) write(b []byte) error { _, err := k.conn.Write(b); return err }
func (k *kcpWire) next() ([]byte, error) {
	b, err := k.fr.Next()
	if errors.Is(err, io.ErrClosedPipe) {
		err = ErrClosed
	}
	return b, err
}
func (k *kcpWire) close() error { return k.conn.Close() }

// leave lets the reader end the session: it closes it on the relay's
// close message, or when the read deadline passes.
func (k *kcpWire) leave(d time.Duration) { _ = k.conn.SetReadDeadline(time.Now().Add(d)) }

// welcomed sets the resend bound: the relay holds its acks for up to a
// tick, to send them with the next frame; with KCP's 30 ms bound alone,
// messages that were not lost would go again. The Godot client and the
// relay-bench bots use the same bound.
func (k *kcpWire) welcomed(tickRate int) {
	if tickRate > 0 {
		kcpx.SetSessionMinRTO(k.conn, kcpx.MinRTOForTick(tickRate))
	}
}

// wsWire is a WebSocket: one binary message per protocol message, without
// the length prefix.
type wsWire struct {
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc // ends the reads and the connection
	buf    []byte
	max    int
}

func dialWS(ctx context.Context, url string, opt Options) (*wsWire, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, err
	}
	max := dflt.Or(opt.MaxFrameSize, 4<<20)
	ws.SetReadLimit(int64(max))
	wctx, cancel := context.WithCancel(context.Background())
	return &wsWire{ws: ws, ctx: wctx, cancel: cancel, max: max}, nil
}

func (w *wsWire) write(b []byte) error {
	for len(b) > 0 {
		if len(b) < codec.FrameHeaderSize {
			return fmt.Errorf("relay client: %d stray bytes after the last frame", len(b))
		}
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-codec.FrameHeaderSize {
			// A raw test frame that lies about its length: send it as it is.
			return w.ws.Write(w.ctx, websocket.MessageBinary, b[codec.FrameHeaderSize:])
		}
		if err := w.ws.Write(w.ctx, websocket.MessageBinary, b[codec.FrameHeaderSize:codec.FrameHeaderSize+n]); err != nil {
			return err
		}
		b = b[codec.FrameHeaderSize+n:]
	}
	return nil
}

func (w *wsWire) next() ([]byte, error) {
	typ, r, err := w.ws.Reader(w.ctx)
	if err != nil {
		if websocket.CloseStatus(err) != -1 || errors.Is(err, context.Canceled) {
			return nil, ErrClosed
		}
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, errors.New("relay client: the relay sent a text message")
	}
	w.buf = w.buf[:0]
	for {
		if len(w.buf) == cap(w.buf) {
			w.buf = append(w.buf, 0)[:len(w.buf)]
		}
		n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+n]
		if err == io.EOF {
			return w.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (w *wsWire) welcomed(int) {}

// leave ends the reads (and the connection) after d, unless the reader
// closes it first on the relay's close message.
func (w *wsWire) leave(d time.Duration) { time.AfterFunc(d, w.cancel) }

func (w *wsWire) close() error {
	w.cancel()
	return w.ws.CloseNow()
}
