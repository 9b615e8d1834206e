package wslink

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay/admit"
	"github.com/tickrelay/tickrelay/relay/link"
)

// frameBytes is one client frame: fin, opcode, masked payload.
func frameBytes(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := []byte{1, 2, 3, 4}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// FuzzWebSocketFrames sends arbitrary bytes after a WebSocket handshake,
// as a hostile client can, and checks that the transport neither panics
// nor queues a body over the limit: whatever the frames declare, memory is
// bounded by MaxFrameSize.
func FuzzWebSocketFrames(f *testing.F) {
	f.Add(frameBytes(true, 2, []byte{0x91, 0x17}))
	f.Add(append(frameBytes(false, 2, []byte{1}), frameBytes(true, 0, []byte{2})...))
	f.Add(frameBytes(true, 1, []byte("text")))
	f.Add(frameBytes(true, 2, make([]byte, 300)))
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}) // 2^63 bytes declared
	f.Add(frameBytes(true, 9, []byte("ping")))
	f.Add(frameBytes(true, 8, []byte{0x03, 0xe8}))
	f.Add([]byte{0x02, 0x00}) // unmasked
	const limit = 256
	sk := &sink{added: make(chan link.Link, 1024)}
	// The fuzzer opens connections faster than any admission budget lets a
	// host: lift the caps (they have tests of their own).
	q := admit.New(admit.Config{NewPerSec: 1e9, NewBurst: 1 << 30, MaxPending: 1 << 30,
		MaxPendingPerIP: 1 << 30, MaxSessionsPerIP: 1 << 30, MaxSessions: 1 << 30})
	tr, err := New(Config{MaxFrameSize: limit, MessageTimeout: time.Second}, q, sk)
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go func() { _ = tr.Serve(ln) }()
	f.Cleanup(tr.Stop)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := "GET / HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second)) // a failure bound
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", err, resp)
		}
		var l link.Link
		select {
		case l = <-sk.added:
		case <-time.After(5 * time.Second):
			t.Fatal("not accepted")
		}
		_, _ = c.Write(data)
		_ = c.(*net.TCPConn).CloseWrite()
		// The connection ends (EOF, a refusal, or an abort): wait for it,
		// reading what the relay sends meanwhile.
		go func() { _, _ = br.WriteTo(discard{}) }()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			items := l.Take(nil)
			for _, it := range items {
				if it.Body != nil && len(*it.Body) > limit {
					t.Fatalf("a body of %d bytes queued, limit %d", len(*it.Body), limit)
				}
				if it.Body == nil && it.Reason == "" {
					t.Fatal("a failure without a reason")
				}
			}
			if l.Closed() || hasFailure(items) {
				l.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the connection neither ended nor failed: % x", data[:min(len(data), 64)])
			}
		}
	})
}

func hasFailure(items []link.Inbound) bool {
	for _, it := range items {
		if it.Body == nil {
			return true
		}
	}
	return false
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
