package conformance

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/relay"
)

// Section 1: KCP over UDP. These tests look at the datagrams themselves,
// so they run over KCP only.

// wireLog records the datagrams of one KCP connection.
type wireLog struct {
	mu      sync.Mutex
	in, out [][]byte
}

func (w *wireLog) tap(out bool, d []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if out {
		w.out = append(w.out, bytes.Clone(d))
	} else {
		w.in = append(w.in, bytes.Clone(d))
	}
}

func (w *wireLog) datagrams(out bool) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if out {
		return append([][]byte(nil), w.out...)
	}
	return append([][]byte(nil), w.in...)
}

// dialTapped connects over KCP with a wire log.
func (e *env) dialTapped(name string, opt KCPOptions) (*client, *KCPConn, *wireLog) {
	e.t.Helper()
	w := &wireLog{}
	opt.Tap = w.tap
	kc := dialKCP(e.t, e.addr, opt)
	return &client{t: e.t, tr: kc, name: name}, kc, w
}

// The server's datagrams are KCP segments of the client's conversation,
// with the documented header, at most one MTU, never fragmented, and its
// acks echo the timestamps of the client's segments.
func TestSection1_SegmentHeader(t *testing.T) {
	t.Parallel()
	e := startKCP(t, &relay.Server{})
	c, kc, w := e.dialTapped("ana", KCPOptions{})
	c.hello("ana", nil)
	c.joined(c.request(TCreateRoom, "dm", 0, true, nil))
	c.sync()

	sentTS := map[uint32]bool{}
	for _, d := range w.datagrams(true) {
		segs, _ := ParseSegments(d)
		for _, s := range segs {
			if s.Cmd == CmdPush {
				sentTS[s.TS] = true
			}
		}
	}
	nextSN := uint32(0)
	var acks, pushes int
	for _, d := range w.datagrams(false) {
		if len(d) > 1200 {
			t.Errorf("a %d-byte datagram: over the MTU of 1200", len(d))
		}
		segs, err := ParseSegments(d)
		if err != nil {
			t.Fatalf("datagram % x: %v", d, err)
		}
		for _, s := range segs {
			if s.Conv != kc.Conv() {
				t.Errorf("segment of conv %d, the client's is %d", s.Conv, kc.Conv())
			}
			switch s.Cmd {
			case CmdPush:
				pushes++
				if s.Frg != 0 {
					t.Errorf("push sn %d has frg %d: the server never fragments", s.SN, s.Frg)
				}
				if s.SN == nextSN { // resends repeat an earlier sn
					nextSN++
				} else if !before(s.SN, nextSN) {
					t.Errorf("push sn %d, want %d (or a resend)", s.SN, nextSN)
				}
				if s.UNA == 0 {
					t.Errorf("push sn %d has una 0 after the hello (sn 0) was received", s.SN)
				}
			case CmdAck:
				acks++
				if !sentTS[s.TS] {
					t.Errorf("ack of sn %d echoes ts %d, which no client segment carried", s.SN, s.TS)
				}
			}
		}
	}
	if acks == 0 || pushes < 3 {
		t.Fatalf("%d acks and %d pushes from the server", acks, pushes)
	}
	if errs := kc.ProtocolErrors(); len(errs) != 0 {
		t.Fatalf("KCP errors: %v", errs)
	}
}

// A frame larger than a segment travels as several KCP messages of at most
// 1176 data bytes each, and is whole again in the byte stream.
func TestSection1_LargeFrameIsAByteStream(t *testing.T) {
	t.Parallel()
	e := startKCP(t, &relay.Server{})
	c, _, w := e.dialTapped("ana", KCPOptions{})
	c.hello("ana", nil)
	big := propsMap()
	for i := range 32 {
		big = append(big, KV{string(rune('A'+i/26)) + string(rune('a'+i%26)), strings.Repeat("v", 250)})
	}
	c.joined(c.request(TCreateRoom, "dm", 0, true, big))
	if len(c.view.props) != 32 {
		t.Fatalf("full frame props: %d keys", len(c.view.props))
	}
	full := 0
	for _, d := range w.datagrams(false) {
		segs, _ := ParseSegments(d)
		for _, s := range segs {
			if s.Cmd == CmdPush && len(s.Data) == 1176 {
				full++
			}
			if len(s.Data) > 1176 {
				t.Errorf("segment with %d data bytes", len(s.Data))
			}
		}
	}
	if full < 6 {
		t.Fatalf("a frame of about 8.5 KB came in %d full segments", full)
	}
}

// The server takes frames from the byte stream wherever KCP messages cut
// it: a frame split across messages, two frames in one message, and a
// message of several fragments (frg > 0), which the server accepts.
func TestSection1_ServerReadsAByteStream(t *testing.T) {
	t.Parallel()
	e := startKCP(t, &relay.Server{})
	c, kc, w := e.dialTapped("ana", KCPOptions{})
	// A hello of two fragments: 2,000 bytes of props.
	big := propsMap()
	for i := range 8 {
		big = append(big, KV{string(rune('a' + i)), strings.Repeat("x", 250)})
	}
	hello := Framed(Msg(THello, 1, "ana", big))
	if err := kc.SendMessage(hello); err != nil {
		t.Fatal(err)
	}
	c.expectWelcome()
	first, _ := ParseSegments(w.datagrams(true)[0])
	if first[0].Frg == 0 {
		t.Fatalf("the hello went unfragmented: frg %d", first[0].Frg)
	}
	ping1, ping2 := Framed(Msg(TPing, 101)), Framed(Msg(TPing, 102))
	for _, m := range [][]byte{ping1[:3], append(ping1[3:], ping2...)} {
		if err := kc.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int64{101, 102} {
		if m := c.next(); m.Type != TPong || m.Pong.ClientTime != want {
			t.Fatalf("got %s, want pong %d", describe(m), want)
		}
	}
}

// Both sides resend what was lost: the client's KCP after its resend time,
// the server's after its own (section 1: a minimum RTO of 30 ms + a tick).
func TestSection1_LostSegmentsAreResent(t *testing.T) {
	t.Parallel()
	e := startKCP(t, &relay.Server{})
	var mu sync.Mutex
	droppedOut, droppedIn := false, false
	dropFirst := func(done *bool, sn uint32) func(d []byte) bool {
		return func(d []byte) bool {
			mu.Lock()
			defer mu.Unlock()
			segs, _ := ParseSegments(d)
			for _, s := range segs {
				if s.Cmd == CmdPush && s.SN == sn && !*done {
					*done = true
					return true
				}
			}
			return false
		}
	}
	opt := KCPOptions{DropOut: dropFirst(&droppedOut, 1), DropIn: dropFirst(&droppedIn, 1)}
	c, kc, _ := e.dialTapped("ana", opt)
	c.hello("ana", nil)                                       // server push sn 0
	j := c.joined(c.request(TCreateRoom, "dm", 0, true, nil)) // client push sn 1, lost once; the reply is server sn 1, lost once
	mu.Lock()
	defer mu.Unlock()
	if !droppedOut || !droppedIn || kc.Resent() == 0 {
		t.Fatalf("dropped out %v, in %v; client resent %d", droppedOut, droppedIn, kc.Resent())
	}
	if j.RoomID == 0 {
		t.Fatal("no room")
	}
}

// Decision 5: from an address the server does not know, only the first
// segment of a hello (a push, sn 0, whose data starts with a hello frame)
// is taken; anything else is dropped without an answer.
func TestSection1_UnknownAddressOnlyHelloStartsASession(t *testing.T) {
	t.Parallel()
	srv := &relay.Server{}
	e := startKCP(t, srv)
	const junkTS = 0x5eed5eed
	hello := Framed(Msg(THello, 1, "x", nil))
	junk := map[string]func(conv uint32) []byte{
		"ping first": func(conv uint32) []byte {
			return (&Segment{Conv: conv, Cmd: CmdPush, TS: junkTS, Wnd: 128, Data: Framed(Msg(TPing, 1))}).AppendTo(nil)
		},
		"hello with sn 1": func(conv uint32) []byte {
			return (&Segment{Conv: conv, Cmd: CmdPush, TS: junkTS, SN: 1, Wnd: 128, Data: hello}).AppendTo(nil)
		},
		"ack": func(conv uint32) []byte {
			return (&Segment{Conv: conv, Cmd: CmdAck, TS: junkTS, Wnd: 128}).AppendTo(nil)
		},
		"window probe": func(conv uint32) []byte {
			return (&Segment{Conv: conv, Cmd: CmdWask, TS: junkTS, Wnd: 128}).AppendTo(nil)
		},
		"not kcp": func(uint32) []byte { return []byte("GET / HTTP/1.1\r\nHost: relay\r\n\r\n") },
	}
	for name, mk := range junk {
		t.Run(name, func(t *testing.T) {
			c, kc, w := e.dialTapped("x", KCPOptions{})
			if err := kc.SendDatagram(mk(kc.Conv())); err != nil {
				t.Fatal(err)
			}
			// Then a real hello from the same address: any answer to the
			// junk would come before this session's pong.
			c.hello("x", nil)
			c.sync()
			for _, d := range w.datagrams(false) {
				segs, _ := ParseSegments(d)
				for _, s := range segs {
					if s.TS == junkTS {
						t.Errorf("the server answered the junk: %+v", s)
					}
				}
			}
		})
	}
}

// Decision 2: with -max-sessions reached, a hello is answered with close
// server_full in one datagram of one push segment (sn 0, the hello's
// conv), no larger than the hello's datagram, and no session is created.
func TestSection1_ServerFullIsOneDatagram(t *testing.T) {
	t.Parallel()
	srv := &relay.Server{MaxSessions: 1}
	e := startKCP(t, srv)
	e.join("first")
	c, kc, w := e.dialTapped("second", KCPOptions{})
	c.send(THello, 1, "second", nil)
	m := c.next()
	if m.Type != TClose || m.Code != CodeServerFull {
		t.Fatalf("got %s, want close server_full", describe(m))
	}
	helloLen := len(w.datagrams(true)[0])
	in := w.datagrams(false)
	if len(in) != 1 {
		t.Errorf("%d datagrams answered the hello, want 1", len(in))
	}
	segs, err := ParseSegments(in[0])
	if err != nil || len(segs) != 1 {
		t.Fatalf("the answer has %d segments (%v), want 1", len(segs), err)
	}
	s := segs[0]
	if s.Cmd != CmdPush || s.SN != 0 || s.Conv != kc.Conv() || s.Frg != 0 {
		t.Errorf("the answer's segment: cmd %d sn %d conv %d frg %d", s.Cmd, s.SN, s.Conv, s.Frg)
	}
	if len(in[0]) > helloLen {
		t.Errorf("the answer is %d bytes, the hello %d: an amplifier", len(in[0]), helloLen)
	}
	if p := srv.Stats().Players; p != 1 {
		t.Errorf("%d players: the full server made a session", p)
	}
}

// A session that never completes its hello is closed with
// handshake_timeout (section 6: no hello within 5 s; shortened here).
func TestSection1_HandshakeTimeout(t *testing.T) {
	t.Parallel()
	e := startKCP(t, &relay.Server{HandshakeTimeout: 300 * time.Millisecond})
	kc := dialKCP(t, e.addr, KCPOptions{})
	c := &client{t: t, tr: kc, name: "half"}
	// The start of a hello frame whose body never comes.
	if err := kc.SendStream([]byte{0, 0, 0, 16, 0x94, 0x01}); err != nil {
		t.Fatal(err)
	}
	c.expectClose(CodeHandshakeTimeout)
}
