package enginetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/godot/web"
)

// TestWebSocketLinkInTheBrowser runs client.gd in the Godot 4.6 web engine
// over a real WebSocket (the browser's, through Godot's WebSocketPeer)
// against a stand-in relay here that speaks the protocol's WebSocket framing
// (one binary message per message body, no length prefix). It checks what
// the stand-in receives (a burst past the socket's outbound buffer arrives
// whole and in order; the resuming hello carries the token and tick; what
// was queued while reconnecting follows it) and the GDScript side checks
// what the client saw (tests/websocket_client_test.gd).
func TestWebSocketLinkInTheBrowser(t *testing.T) {
	t.Parallel()
	sharedWebEngine(t)
	const burst = 300
	fr := startFakeWSRelay(t, burst)
	p := addonPack(t)
	res := runWebPlan(t, p, []web.Step{{
		Script:         "res://tests/websocket_client_test.gd",
		Kind:           web.StepNode,
		Args:           map[string]string{"port": strconv.Itoa(fr.port), "burst": strconv.Itoa(burst), "timeout-ms": "40000"},
		TimeoutSeconds: 50,
	}}, 90*time.Second)
	if res != nil && len(res.Steps) == 1 {
		t.Logf("GDScript checks: %d passed", res.Steps[0].Passed)
	}
	fr.close()
	for _, e := range fr.problems() {
		t.Error(e)
	}
	if n := fr.connections(); n != 3 {
		t.Errorf("the stand-in relay saw %d connections, want 3", n)
	}
}

// fakeWSRelay plays three connections of a relay over WebSocket, each with
// its own script (see serve).
type fakeWSRelay struct {
	t     *testing.T
	burst int
	port  int
	srv   *http.Server
	wg    sync.WaitGroup // the connection handlers
	done  chan struct{}  // closed when Serve has returned

	mu    sync.Mutex
	n     int
	probs []string
	conns []*websocket.Conn
}

func startFakeWSRelay(t *testing.T, burst int) *fakeWSRelay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeWSRelay{t: t, burst: burst, port: ln.Addr().(*net.TCPAddr).Port, done: make(chan struct{})}
	fr.srv = &http.Server{Handler: http.HandlerFunc(fr.accept), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(fr.done)
		fr.srv.Serve(ln)
	}()
	t.Cleanup(fr.close)
	return fr
}

// close stops the server, drops the connections (the server does not track
// them once they are WebSockets) and waits for every handler.
func (fr *fakeWSRelay) close() {
	fr.srv.Close()
	<-fr.done
	fr.mu.Lock()
	for _, c := range fr.conns {
		c.CloseNow()
	}
	fr.mu.Unlock()
	fr.wg.Wait()
}

func (fr *fakeWSRelay) problem(format string, args ...any) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.probs = append(fr.probs, fmt.Sprintf(format, args...))
}

func (fr *fakeWSRelay) problems() []string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return append([]string(nil), fr.probs...)
}

func (fr *fakeWSRelay) connections() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.n
}

func (fr *fakeWSRelay) accept(w http.ResponseWriter, r *http.Request) {
	// The page is served from another port: a cross-origin handshake, as a
	// web export on its own site always makes.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		fr.problem("accept: %v", err)
		return
	}
	fr.wg.Add(1)
	defer fr.wg.Done()
	conn.SetReadLimit(1 << 20)
	fr.mu.Lock()
	fr.n++
	n := fr.n
	fr.conns = append(fr.conns, conn)
	fr.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 40*time.Second)
	defer cancel()
	if err := fr.serve(ctx, conn, n); err != nil {
		fr.problem("connection %d: %v", n, err)
	}
	conn.CloseNow()
}

// read returns the next client message that is not a ping (pings come
// whenever the client's clock says).
func read(ctx context.Context, conn *websocket.Conn, m *codec.ClientMsg) error {
	for {
		typ, body, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageBinary {
			return fmt.Errorf("a %v message from the client", typ)
		}
		if err := codec.DecodeClient(body, &codec.DefaultLimits, m); err != nil {
			return fmt.Errorf("undecodable message % x: %w", body, err)
		}
		if m.Type != codec.TPing {
			return nil
		}
	}
}

// write sends one server message: a frame as the codec makes it, without
// its length prefix.
func write(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	return conn.Write(ctx, websocket.MessageBinary, frame[codec.FrameHeaderSize:])
}

// frameWithEvent is a frame of tick with no room and one event from player 7.
func frameWithEvent(tick uint64, code uint32) []byte {
	b, start := codec.AppendFrameStart(nil, tick, time.Now().UnixMilli())
	b = codec.AppendNil(b) // no room
	b = codec.AppendArrayLen(b, 1)
	b = codec.AppendEventEntry(b, tick, 7, code, nil)
	b = codec.AppendArrayLen(b, 0) // no chat
	codec.EndFrame(b, start)
	return b
}

func (fr *fakeWSRelay) serve(ctx context.Context, conn *websocket.Conn, n int) error {
	var m codec.ClientMsg
	now := time.Now().UnixMilli()
	if err := read(ctx, conn, &m); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if m.Type != codec.THello || string(m.Name) != "web" {
		return fmt.Errorf("first message: type %d name %q, want hello from web", m.Type, m.Name)
	}
	switch n {
	case 1:
		if len(m.Resume) != 0 {
			return fmt.Errorf("a first hello with a resume token %q", m.Resume)
		}
		if err := write(ctx, conn, codec.AppendWelcome(nil, 7, "tok1", 30, now, 40, false, 0)); err != nil {
			return err
		}
		// The burst: every event, whole and in order, then the chat.
		for i := 0; i < fr.burst; i++ {
			if err := read(ctx, conn, &m); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
			want := fmt.Sprintf("%04d", i)
			if m.Type != codec.TEvent || m.EventCode != uint32(100+i) || len(m.Value) != 2+4+900+1 || string(m.Value[3:7]) != want {
				return fmt.Errorf("message %d of the burst: type %d code %d payload %d bytes, want event %d", i, m.Type, m.EventCode, len(m.Value), 100+i)
			}
		}
		if err := read(ctx, conn, &m); err != nil || m.Type != codec.TChat || string(m.Text) != "burst done" {
			return fmt.Errorf("after the burst: type %d %q %v, want chat \"burst done\"", m.Type, m.Text, err)
		}
		if err := write(ctx, conn, frameWithEvent(50, 1)); err != nil {
			return err
		}
		// Cut without a close message or handshake, as a network does. The
		// client has until its next read of the socket to see the frame.
		return nil
	case 2:
		if string(m.Resume) != "tok1" || m.LastTick != 50 {
			return fmt.Errorf("the resuming hello: token %q last tick %d, want tok1 and 50", m.Resume, m.LastTick)
		}
		if err := read(ctx, conn, &m); err != nil || m.Type != codec.TChat || string(m.Text) != "while away" {
			return fmt.Errorf("after the resuming hello: type %d %q %v, want the chat queued while away", m.Type, m.Text, err)
		}
		if err := write(ctx, conn, codec.AppendWelcome(nil, 7, "tok2", 30, now, 60, true, 0)); err != nil {
			return err
		}
		if err := write(ctx, conn, frameWithEvent(61, 2)); err != nil {
			return err
		}
		if err := read(ctx, conn, &m); err != nil || m.Type != codec.TChat || string(m.Text) != "now text" {
			return fmt.Errorf("after the resume: type %d %q %v, want chat \"now text\"", m.Type, m.Text, err)
		}
		if err := conn.Write(ctx, websocket.MessageText, []byte("not the protocol")); err != nil {
			return err
		}
		// The client drops the connection.
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				if ctx.Err() != nil {
					return errors.New("the client kept the connection after a text message")
				}
				return nil
			}
		}
	case 3:
		if len(m.Resume) != 0 {
			return fmt.Errorf("a fresh hello with a resume token %q", m.Resume)
		}
		if err := write(ctx, conn, codec.AppendWelcome(nil, 8, "tok3", 30, now, 70, false, 0)); err != nil {
			return err
		}
		if err := write(ctx, conn, codec.AppendClose(nil, codec.CodeServerClosing, "the server is shutting down")); err != nil {
			return err
		}
		// The client drops the connection on the close message, so the
		// close handshake may not complete.
		conn.Close(websocket.StatusNormalClosure, "")
		return nil
	}
	return fmt.Errorf("an unexpected connection %d", n)
}
