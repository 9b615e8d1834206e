package relay_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// A room with a KCP player and a WebSocket player: each sees the other's
// states, events and chat, joins and leaves, and the master change.
func TestWebSocketAndKCPShareARoom(t *testing.T) {
	srv := &relay.Server{}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	k := dial(t, kcpAddr, "kcp-player")
	w := dial(t, wsURL, "web-player")
	kc, wc := collect(k), collect(w)

	j, err := k.CreateRoom(ctx, client.RoomOptions{Mode: "mixed", MaxPlayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{k, w} {
		if err := c.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 2 }); err != nil {
			t.Fatalf("%d: %v", c.ID(), err)
		}
	}
	if err := k.SetState([]int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetState("web"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{k, w} {
		if err := c.WaitFor(ctx, func(v client.RoomView) bool {
			return v.Players[k.ID()].State != nil && v.Players[w.ID()].State != nil
		}); err != nil {
			t.Fatalf("%d: states: %v", c.ID(), err)
		}
	}
	if err := w.SendEvent(codec.TargetOthers, nil, 7, "from web"); err != nil {
		t.Fatal(err)
	}
	if err := k.SendEvent(codec.TargetOthers, nil, 8, "from kcp"); err != nil {
		t.Fatal(err)
	}
	if err := k.Chat("hi web"); err != nil {
		t.Fatal(err)
	}
	kc.waitUntil(t, ctx, "the web player's event", func() bool { return len(kc.events) == 1 && kc.events[0].Code == 7 })
	wc.waitUntil(t, ctx, "the KCP player's event and chat", func() bool {
		return len(wc.events) == 1 && wc.events[0].Code == 8 && len(wc.chat) == 1 && wc.chat[0].Text == "hi web"
	})
	// The master (the KCP player) leaves: the web player becomes master.
	if err := k.LeaveRoom(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 1 && v.Master == w.ID() }); err != nil {
		t.Fatalf("master change: %v (%+v)", err, w.Room())
	}
	st := srv.Stats()
	if st.Transports["ws"] != 1 || st.Transports["kcp"] != 1 {
		t.Fatalf("players by transport %v", st.Transports)
	}
}

// A player resumes on the other transport: WebSocket to KCP and back,
// keeping its id, its room and every event it missed.
func TestResumeAcrossTransports(t *testing.T) {
	srv := &relay.Server{}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	host := dial(t, kcpAddr, "host")
	mover := dial(t, wsURL, "mover")
	mc := collect(mover)
	j, err := host.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mover.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	waitFrames(t, ctx, mc, 2)
	id := mover.ID()
	for i, to := range []string{kcpAddr, wsURL} {
		mover.Drop()
		code := uint32(100 + i)
		if err := host.SendEvent(codec.TargetAll, nil, code, nil); err != nil {
			t.Fatal(err)
		}
		if err := mover.ReconnectTo(ctx, to); err != nil {
			t.Fatalf("resume via %s: %v", to, err)
		}
		if w := mover.Welcome(); !w.Resumed || w.PlayerID != id || w.RoomID != j.RoomID {
			t.Fatalf("resume via %s: welcome %+v", to, w)
		}
		mc.waitUntil(t, ctx, "the event sent while away", func() bool {
			for _, e := range mc.events {
				if e.Code == code {
					return true
				}
			}
			return false
		})
	}
}

// wsRaw is a bare WebSocket to the relay, for hostile input.
func wsRaw(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func wsHello(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hello := codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("raw")})
	if err := ws.Write(ctx, websocket.MessageBinary, hello[codec.FrameHeaderSize:]); err != nil {
		t.Fatal(err)
	}
	if m := wsNext(t, ws); m.Type != codec.TWelcome {
		t.Fatalf("got %d, want welcome", m.Type)
	}
}

func wsNext(t *testing.T, ws *websocket.Conn) *codec.ServerMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a failure bound
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageBinary {
		t.Fatalf("a text message from the relay")
	}
	m, err := codec.DecodeServer(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wsExpectClose reads until the relay's close message and then the end of
// the WebSocket.
func wsExpectClose(t *testing.T, ws *websocket.Conn, want codec.Code) {
	t.Helper()
	for {
		m := wsNext(t, ws)
		if m.Type != codec.TClose {
			continue
		}
		if m.Code != want || m.Message == "" {
			t.Fatalf("closed with %v (%q), want %v with a reason", m.Code, m.Message, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := ws.Read(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the WebSocket stayed open after close: %v", err)
		}
		return
	}
}

// Hostile WebSocket input closes only that connection, with a reason, and
// a player in a room keeps getting every frame.
func TestWebSocketHostileInput(t *testing.T) {
	srv := &relay.Server{
		HandshakeTimeout: 500 * time.Millisecond,
		MaxFrameSize:     1024,
		WebSocket:        relay.WebSocketConfig{},
	}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	good := dial(t, kcpAddr, "good")
	if _, err := good.CreateRoom(ctx, client.RoomOptions{}); err != nil {
		t.Fatal(err)
	}
	kg := collect(good)
	waitFrames(t, ctx, kg, 2)
	write := func(ws *websocket.Conn, typ websocket.MessageType, b []byte) {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = ws.Write(wctx, typ, b) // the relay may close before taking it all
	}

	t.Run("oversized message is refused before it is read whole", func(t *testing.T) {
		ws := wsRaw(t, wsURL)
		wsHello(t, ws)
		go write(ws, websocket.MessageBinary, make([]byte, 8<<20))
		wsExpectClose(t, ws, codec.CodeFrameTooLarge)
	})
	t.Run("text message", func(t *testing.T) {
		ws := wsRaw(t, wsURL)
		wsHello(t, ws)
		write(ws, websocket.MessageText, []byte(`[23, 1]`))
		wsExpectClose(t, ws, codec.CodeMalformed)
	})
	t.Run("malformed body", func(t *testing.T) {
		ws := wsRaw(t, wsURL)
		wsHello(t, ws)
		write(ws, websocket.MessageBinary, []byte{0xdd, 0x10, 0, 0, 0})
		wsExpectClose(t, ws, codec.CodeMalformed)
	})
	t.Run("no hello in time", func(t *testing.T) {
		ws := wsRaw(t, wsURL)
		wsExpectClose(t, ws, codec.CodeHandshakeTimeout)
	})
	t.Run("slow handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil { // never finished
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a failure bound
		if _, err := c.Read(make([]byte, 1024)); err == nil {
			// An error response is fine too; what matters is the close below.
			_, err = c.Read(make([]byte, 1024))
			if err == nil {
				t.Fatal("the connection stayed open")
			}
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a half-sent handshake was kept open")
		}
	})
	t.Run("plain HTTP gets 426", func(t *testing.T) {
		resp, err := http.Get("http" + strings.TrimPrefix(wsURL, "ws"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	waitFrames(t, ctx, kg, 3)
	if good.Err() != nil {
		t.Fatalf("the good client was closed: %v", good.Err())
	}
	checkTickGaps(t, srv, kg.framesSince(0))
}

// Many connections from one address meet the per-address caps the KCP
// transport shares; a full relay says server_full in the protocol.
func TestWebSocketAdmission(t *testing.T) {
	srv := &relay.Server{MaxSessionsPerIP: 3, MaxHandshakesPerIP: 100, MaxSessions: 100}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	// One KCP and two WebSocket sessions from 127.0.0.1 fill its share.
	dial(t, kcpAddr, "k")
	dial(t, wsURL, "w1")
	dial(t, wsURL, "w2")
	_, err := client.Dial(ctx, wsURL, client.Options{Name: "w3"})
	var re *client.Error
	if !errors.As(err, &re) || re.Code != codec.CodeServerFull {
		t.Fatalf("fourth session from one address: %v, want server_full", err)
	}
	_, err = client.Dial(ctx, kcpAddr, client.Options{Name: "k2"})
	if !errors.As(err, &re) || re.Code != codec.CodeServerFull {
		t.Fatalf("fourth session over KCP: %v, want server_full", err)
	}
}

// smallRecvClient dials with a small socket receive buffer, so that a
// client that stops reading is soon seen as not taking its frames.
func smallRecvClient(n int) *http.Client {
	d := &net.Dialer{Control: recvBufferControl(n)}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}
