package relay_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/internal/relaytest"
	"github.com/tickrelay/tickrelay/relay"
	"github.com/tickrelay/tickrelay/relay/client"
)

func startServer(t testing.TB, s *relay.Server) string { return relaytest.Start(t, s) }

func dial(t testing.TB, addr, name string) *client.Client {
	t.Helper()
	return dialWith(t, addr, client.Options{Name: name})
}

// dialWith is dial with options.
func dialWith(t testing.TB, addr string, opt client.Options) *client.Client {
	t.Helper()
	c, err := dialErr(addr, opt)
	if err != nil {
		t.Fatalf("dial %s: %v", opt.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkNoLeak fails if goroutines started by the relay or its clients are
// still running once everything is closed. kcp-go's package-level
// scheduler goroutines live for the whole process and are not counted.
func checkNoLeak(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaked := relayGoroutines()
		if leaked == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left running:\n%s", leaked)
		}
		runtime.Gosched()
		time.Sleep(20 * time.Millisecond) // polling for goroutine exit, not synchronising the test
	}
}

func relayGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "tickrelay/relay") || strings.Contains(g, "kcp-go/v5.(*UDPSession)") ||
			strings.Contains(g, "kcp-go/v5.(*Listener)") || strings.Contains(g, "tickrelay/tick") {
			if !strings.Contains(g, "checkNoLeak") && !strings.Contains(g, "testing.tRunner") {
				out = append(out, g)
			}
		}
	}
	return strings.Join(out, "\n\n")
}

func listenLoopback() (net.PacketConn, error) { return relay.Listen("127.0.0.1:0") }
