package relay_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

// freezeProxy forwards TCP connections to target until freeze is called;
// then it stops moving bytes either way without closing anything, as a
// network that vanished does.
type freezeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen chan struct{}
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: target, frozen: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezeProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *freezeProxy) pipe(from, to net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := from.Read(buf)
		select {
		case <-p.frozen:
			return // the bytes are lost; the sockets stay open
		default:
		}
		if n > 0 {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezeProxy) freeze() { close(p.frozen) }

// url is the proxy's WebSocket URL for a relay URL.
func (p *freezeProxy) url(relayURL string) string {
	return "ws://" + p.ln.Addr().String() + relayURL[strings.LastIndex(relayURL, "/"):]
}

// A WebSocket player whose network vanishes is away, not removed: the room
// sees presence false and the player resumes on a new connection.
func TestWebSocketLostLinkIsAwayAndResumes(t *testing.T) {
	srv := &relay.Server{IdleTimeout: time.Second, SlowClientTimeout: time.Second, ResumeGrace: 15 * time.Second}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	// The players ping five times per idle timeout: only the frozen link
	// may look idle, also on a loaded machine (at the default one-second
	// interval a late ping once timed out the host).
	quick := func(addr, name string) *client.Client {
		return dialWith(t, addr, client.Options{Name: name, PingInterval: 200 * time.Millisecond})
	}
	host := quick(kcpAddr, "host")
	j, err := host.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFreezeProxy(t, strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/"))
	web := quick(proxy.url(wsURL), "web")
	wc := collect(web)
	if _, err := web.JoinByCode(ctx, j.Code); err != nil {
		t.Fatal(err)
	}
	if err := host.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 2 }); err != nil {
		t.Fatal(err)
	}
	proxy.freeze()
	if err := host.WaitFor(ctx, func(v client.RoomView) bool { return v.Players[web.ID()].Away }); err != nil {
		t.Fatalf("the room never saw the web player away: %v", err)
	}
	if err := host.SendEvent(codec.TargetOthers, nil, 42, nil); err != nil {
		t.Fatal(err)
	}
	if err := web.ReconnectTo(ctx, wsURL); err != nil {
		t.Fatalf("resume after the network came back: %v", err)
	}
	wc.waitUntil(t, ctx, "the event sent while away", func() bool { return len(wc.events) == 1 && wc.events[0].Code == 42 })
	if err := host.WaitFor(ctx, func(v client.RoomView) bool { p, ok := v.Players[web.ID()]; return ok && !p.Away }); err != nil {
		t.Fatalf("the room never saw the web player back: %v", err)
	}
	if n := srv.Stats().Closes["slow_consumer"]; n != 0 {
		t.Fatalf("%d slow_consumer closes", n)
	}
}

// A WebSocket client that keeps talking but does not read its frames is the
// slow consumer: closed, and its room sees it leave.
func TestWebSocketSlowConsumer(t *testing.T) {
	srv := &relay.Server{SlowClientTimeout: time.Second}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	ctx := ctxT(t)
	host := dial(t, kcpAddr, "host")
	j, err := host.CreateRoom(ctx, client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: smallRecvClient(4096)})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(m codec.ClientMsg) error {
		return ws.Write(ctx, websocket.MessageBinary, codec.AppendClient(nil, &m)[codec.FrameHeaderSize:])
	}
	if err := send(codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("slow")}); err != nil {
		t.Fatal(err)
	}
	if err := send(codec.ClientMsg{Type: codec.TJoinCode, RID: 1, Code: []byte(j.Code)}); err != nil {
		t.Fatal(err)
	}
	// Big states make the frames the slow client does not read add up.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(time.Second / 30)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			_ = host.SetState(strings.Repeat("x", 900))
			if i%10 == 0 {
				_ = send(codec.ClientMsg{Type: codec.TPing, ClientTime: int64(i)}) // still talking
			}
		}
	}()
	waitStat(t, ctx, srv, "a slow_consumer close", func(st relay.Stats) bool { return st.Closes["slow_consumer"] == 1 })
	if err := host.WaitFor(ctx, func(v client.RoomView) bool { return len(v.Players) == 1 }); err != nil {
		t.Fatalf("the room still has the slow client: %v", err)
	}
}
