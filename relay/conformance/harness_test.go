package conformance

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
)

// transportKind is one way for a client to reach the relay. Every test
// that is not about the wire runs once per kind. A WebSocket kind is one
// more file (its Transport and dial function) and one more entry here.
type transportKind struct {
	name string
	// prepare sets what the server needs to serve this transport (nil:
	// nothing).
	prepare func(*relay.Server)
	// dial connects to the relay whose UDP address relaytest.Start
	// returned. The transport is closed when the test ends.
	dial func(t testing.TB, addr string, o dialOptions) Transport
	// helloFirst: the server drops, unanswered, a connection whose first
	// bytes are not a hello (KCP, decision 5), instead of closing it
	// with not_ready (section 4.1).
	helloFirst bool
	// ws: dial gets the relay's WebSocket URL instead of its UDP address.
	ws bool
}

var transportKinds = []transportKind{
	{name: "kcp", helloFirst: true, dial: func(t testing.TB, addr string, o dialOptions) Transport {
		return dialKCP(t, addr, KCPOptions{KCP: KCPConfig{RecvWindow: o.recvWindow}})
	}},
	{name: "ws", ws: true, dial: func(t testing.TB, url string, o dialOptions) Transport {
		t.Helper()
		opt := WSOptions{}
		if o.recvWindow > 0 {
			opt.RecvBuffer = 4096
		}
		c, err := DialWS(url, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}},
}

// dialOptions are what a test may ask of any transport.
type dialOptions struct {
	// recvWindow, when set, is a small receive buffer (KCP: packets), so
	// that a stalled client is soon seen as not taking its frames.
	recvWindow int
}

func dialKCP(t testing.TB, addr string, opt KCPOptions) *KCPConn {
	t.Helper()
	c, err := DialKCP(addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eachTransport runs f as a parallel subtest per transport kind.
func eachTransport(t *testing.T, f func(t *testing.T, k transportKind)) {
	t.Parallel()
	for _, k := range transportKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

// env is one relay under test and the transport its clients use.
type env struct {
	t    testing.TB
	srv  *relay.Server
	addr string
	kind transportKind
}

// start serves srv on 127.0.0.1, port 0, until the test ends.
func start(t testing.TB, k transportKind, srv *relay.Server) *env {
	t.Helper()
	if k.prepare != nil {
		k.prepare(srv)
	}
	// Every client of a test comes from 127.0.0.1: the per-address
	// admission caps (a flood defence, not protocol) would hold back the
	// hellos of a test that opens many sessions in a row until earlier
	// ones are gone. Tests of those caps set them.
	if srv.MaxHandshakesPerIP == 0 {
		srv.MaxHandshakesPerIP = 256
	}
	if srv.MaxSessionsPerIP == 0 {
		srv.MaxSessionsPerIP = 256
	}
	kcpAddr, wsURL := relaytest.StartBoth(t, srv)
	e := &env{t: t, srv: srv, addr: kcpAddr, kind: k}
	if k.ws {
		e.addr = wsURL
	}
	return e
}

// startKCP serves srv for a test of the KCP wire itself.
func startKCP(t testing.TB, srv *relay.Server) *env { return start(t, transportKinds[0], srv) }

// on returns e for subtest t: its clients fail t, not the parent.
func (e *env) on(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// connect opens a transport without saying anything.
func (e *env) connect(name string) *client { return e.connectWith(name, dialOptions{}) }

func (e *env) connectWith(name string, o dialOptions) *client {
	e.t.Helper()
	return &client{t: e.t, tr: e.kind.dial(e.t, e.addr, o), name: name}
}

// join connects and says hello (without the optional fields).
func (e *env) join(name string) *client {
	e.t.Helper()
	c := e.connect(name)
	c.hello(name, nil)
	return c
}

// wait bounds every wait for the server; it is a failure bound, never a
// way to let time pass.
const wait = 5 * time.Second

// TestMain checks that the suite leaves no goroutine of its own or of the
// relay running: every connection and server is closed by its test.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func waitLeaks(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaked := ownGoroutines()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(10 * time.Millisecond) // polling for goroutines to end, bounded
	}
}

func ownGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ownGoroutines") {
			continue
		}
		if strings.Contains(g, "relay/conformance.(*KCPConn)") || strings.Contains(g, "tickrelay/relay.") ||
			strings.Contains(g, "tickrelay/tick.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
