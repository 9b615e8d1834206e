package kcplink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"

	"github.com/tickrelay/tickrelay/codec"
)

// fltSegment builds one KCP segment (PROTOCOL.md section 1).
func fltSegment(conv uint32, cmd, frg byte, sn uint32, data []byte) []byte {
	b := make([]byte, kcpHeaderSize, kcpHeaderSize+len(data))
	binary.LittleEndian.PutUint32(b[0:], conv)
	b[4], b[5] = cmd, frg
	binary.LittleEndian.PutUint16(b[6:], 128) // wnd
	binary.LittleEndian.PutUint32(b[8:], 12345)
	binary.LittleEndian.PutUint32(b[12:], sn)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(data)))
	return append(b, data...)
}

func fltHelloFrame() []byte {
	return codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("x")})
}

// fltHello is a genuine client's first datagram.
func fltHello(conv uint32) []byte { return fltSegment(conv, kcpCmdPush, 0, 0, fltHelloFrame()) }

// fltAck is an ack segment, as a client sends once it has the welcome.
func fltAck(conv uint32) []byte { return fltSegment(conv, 82, 0, 0, nil) }

func fltAddr(s string) *net.UDPAddr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// fltPC is a PacketConn fed by the test. ReadFrom returns errFltEmpty when
// nothing is queued, so a filtered read ends instead of blocking.
type fltPC struct {
	q      []fltDgram
	repeat *fltDgram // when set, every read returns it (allocation test)
	writes int
}

type fltDgram struct {
	b    []byte
	addr net.Addr
}

var errFltEmpty = errors.New("fltPC: nothing queued")

func (c *fltPC) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.repeat != nil {
		return copy(p, c.repeat.b), c.repeat.addr, nil
	}
	if len(c.q) == 0 {
		return 0, nil, errFltEmpty
	}
	d := c.q[0]
	c.q = c.q[1:]
	return copy(p, d.b), d.addr, nil
}
func (c *fltPC) WriteTo(p []byte, _ net.Addr) (int, error) { c.writes++; return len(p), nil }
func (c *fltPC) Close() error                              { return nil }
func (c *fltPC) LocalAddr() net.Addr                       { return fltAddr("127.0.0.1:7777") }
func (c *fltPC) SetDeadline(time.Time) error               { return nil }
func (c *fltPC) SetReadDeadline(time.Time) error           { return nil }
func (c *fltPC) SetWriteDeadline(time.Time) error          { return nil }

// fltRig is a filterConn over a fltPC with a clock the test moves.
type fltRig struct {
	t   *testing.T
	pc  *fltPC
	f   *filterConn
	now time.Time
	buf []byte
}

func newFltRig(t *testing.T, cfg filterConfig) *fltRig {
	r := &fltRig{t: t, pc: &fltPC{}, now: time.Unix(1_700_000_000, 0), buf: make([]byte, 1500)}
	cfg.now = func() time.Time { return r.now }
	r.f = newFilterConn(r.pc, cfg)
	return r
}

// send offers one datagram and reports whether the filter passed it.
func (r *fltRig) send(b []byte, from string) bool {
	r.t.Helper()
	r.pc.q = append(r.pc.q, fltDgram{b: b, addr: fltAddr(from)})
	n, addr, err := r.f.ReadFrom(r.buf)
	if errors.Is(err, errFltEmpty) {
		return false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if !bytes.Equal(r.buf[:n], b) || addr.String() != fltAddr(from).String() {
		r.t.Fatalf("ReadFrom returned %d bytes from %v, want the datagram from %s", n, addr, from)
	}
	return true
}

func (r *fltRig) wantDrops(want map[string]uint64) {
	r.t.Helper()
	s := r.f.stats()
	for k, v := range s.Drops {
		if want[k] != v {
			r.t.Errorf("drops[%s] = %d, want %d (all: %v)", k, v, want[k], s.Drops)
		}
	}
}

func TestFilterJunkDropped(t *testing.T) {
	r := newFltRig(t, filterConfig{})
	frame := fltHelloFrame()
	bigFrame := append([]byte(nil), frame...)
	binary.BigEndian.PutUint32(bigFrame, 16<<10+1)
	ping := codec.AppendClient(nil, &codec.ClientMsg{Type: codec.TPing, ClientTime: 1})
	short := append([]byte(nil), frame...)
	short[4] = 0x93 // a 3-element array cannot be a hello
	badLen := fltHello(1)
	binary.LittleEndian.PutUint32(badLen[20:], uint32(len(frame)+1))
	junk := map[string][]byte{
		"empty":            {},
		"23 bytes":         bytes.Repeat([]byte{0x51}, 23),
		"24 zero bytes":    make([]byte, 24),
		"random":           []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nxxxxxxxxxxxxxxx"),
		"ack":              fltAck(1),
		"push sn 1":        fltSegment(1, kcpCmdPush, 0, 1, frame),
		"window probe":     fltSegment(1, 83, 0, 0, nil),
		"len past the end": badLen,
		"no data":          fltSegment(1, kcpCmdPush, 0, 0, nil),
		"frame too large":  fltSegment(1, kcpCmdPush, 0, 0, bigFrame),
		"ping first":       fltSegment(1, kcpCmdPush, 0, 0, ping),
		"3-element array":  fltSegment(1, kcpCmdPush, 0, 0, short),
		"zero frame":       fltSegment(1, kcpCmdPush, 0, 0, []byte{0, 0, 0, 0, 0x94, 1}),
	}
	for name, b := range junk {
		if r.send(b, "10.0.0.1:4000") {
			t.Errorf("%s: passed", name)
		}
	}
	s := r.f.stats()
	if s.Admitted != 0 || s.Sessions != 0 || s.Passed != 0 || s.Dropped != uint64(len(junk)) {
		t.Errorf("stats %+v", s)
	}
	r.wantDrops(map[string]uint64{"junk": uint64(len(junk))})
}

func TestFilterAdmitsGenuineHello(t *testing.T) {
	r := newFltRig(t, filterConfig{})
	if !r.send(fltHello(7), "10.0.0.1:4000") {
		t.Fatal("hello dropped")
	}
	// Pending: its later packets pass, another conv does not.
	if !r.send(fltAck(7), "10.0.0.1:4000") || !r.send(fltSegment(7, kcpCmdPush, 0, 1, []byte{0, 0, 0, 2, 0x91, 0x18}), "10.0.0.1:4000") {
		t.Fatal("pending address's packets dropped")
	}
	if r.send(fltHello(8), "10.0.0.1:4000") {
		t.Fatal("another conv from a pending address passed")
	}
	// Other encodings of a hello's first segment.
	arr16 := fltHelloFrame()
	arr16 = append(arr16[:4], append([]byte{0xdc, 0, 4}, arr16[5:]...)...)
	binary.BigEndian.PutUint32(arr16, uint32(len(arr16)-4))
	more := codec.AppendClient(nil, &codec.ClientMsg{Type: codec.THello, Version: 1, Name: []byte("x")})
	more[4] = 0x95 // forward compatible: extra fields
	if !r.send(fltSegment(9, kcpCmdPush, 0, 0, arr16), "10.0.0.2:4000") {
		t.Error("array16 hello dropped")
	}
	if !r.send(fltSegment(9, kcpCmdPush, 3, 0, more), "10.0.0.3:4000") {
		t.Error("first fragment (frg 3) of a large hello dropped")
	}
	two := append(fltHello(10), fltSegment(10, kcpCmdPush, 0, 1, []byte{0, 0, 0, 2, 0x91, 0x18})...)
	if !r.send(two, "10.0.0.4:4000") {
		t.Error("hello followed by a second segment dropped")
	}
	s := r.f.stats()
	if s.Admitted != 4 || s.Pending != 4 || s.Sessions != 4 || s.SourceIPs != 4 || s.Passed != 6 {
		t.Errorf("stats %+v", s)
	}
	r.wantDrops(map[string]uint64{"conv_mismatch": 1})
}

func TestFilterPendingCapTotal(t *testing.T) {
	r := newFltRig(t, filterConfig{maxPending: 8})
	admitted := 0
	for i := range 20 {
		if r.send(fltHello(uint32(i)), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 4000).String()) {
			admitted++
		}
	}
	if admitted != 8 {
		t.Errorf("admitted %d, want 8", admitted)
	}
	r.wantDrops(map[string]uint64{"pending_cap": 12})
	// Establishing one frees a pending slot.
	r.f.established(fltAddr("10.0.1.0:4000"), 0)
	if !r.send(fltHello(99), "10.0.2.1:4000") || r.send(fltHello(100), "10.0.2.2:4000") {
		t.Error("established should free exactly one pending slot")
	}
}

func TestFilterPerIPCaps(t *testing.T) {
	r := newFltRig(t, filterConfig{maxPendingPerIP: 4, maxSessionsPerIP: 6})
	admitted := 0
	for port := range 10 {
		if r.send(fltHello(uint32(port)), "10.0.0.1:"+strconv.Itoa(5000+port)) {
			admitted++
		}
	}
	if admitted != 4 {
		t.Fatalf("admitted %d from one IP, want 4 pending", admitted)
	}
	if !r.send(fltHello(1), "10.0.0.2:5000") {
		t.Fatal("another IP was refused")
	}
	// Established sessions free pending slots but count toward the
	// per-IP session cap of 6.
	for port := range 4 {
		r.f.established(fltAddr("10.0.0.1:"+strconv.Itoa(5000+port)), uint32(port))
	}
	admitted = 0
	for port := 10; port < 20; port++ {
		if r.send(fltHello(uint32(port)), "10.0.0.1:"+strconv.Itoa(5000+port)) {
			admitted++
		}
	}
	if admitted != 2 {
		t.Errorf("admitted %d more, want 2 (session cap 6)", admitted)
	}
	r.wantDrops(map[string]uint64{"per_ip_cap": 6 + 8})
	// An IPv6 /64 counts as one source.
	r6 := newFltRig(t, filterConfig{maxPendingPerIP: 2})
	if !r6.send(fltHello(1), "[2001:db8::1]:4000") || !r6.send(fltHello(2), "[2001:db8::2:3]:4000") ||
		r6.send(fltHello(3), "[2001:db8::ffff:1]:4000") || !r6.send(fltHello(4), "[2001:db8:0:1::1]:4000") {
		t.Error("IPv6 sources should be counted per /64")
	}
}

func TestFilterSessionCap(t *testing.T) {
	r := newFltRig(t, filterConfig{maxSessions: 3})
	for i := range 3 {
		a := "10.0.0." + strconv.Itoa(i+1) + ":4000"
		if !r.send(fltHello(1), a) {
			t.Fatal("refused below the cap")
		}
		r.f.established(fltAddr(a), 1)
	}
	if r.send(fltHello(1), "10.0.0.9:4000") {
		t.Fatal("admitted beyond the session cap")
	}
	r.f.forget(fltAddr("10.0.0.1:4000"))
	if !r.send(fltHello(1), "10.0.0.9:4000") {
		t.Fatal("refused after a session was forgotten")
	}
	r.wantDrops(map[string]uint64{"session_cap": 1})
}

func TestFilterRateLimit(t *testing.T) {
	r := newFltRig(t, filterConfig{newPerSec: 10, newBurst: 5, maxPendingPerIP: 100, maxSessionsPerIP: 100})
	addr := func(i int) string { return "10.0.0.1:" + strconv.Itoa(1000+i) }
	admitted := 0
	for i := range 20 {
		if r.send(fltHello(1), addr(i)) {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("admitted %d at once, want the burst of 5", admitted)
	}
	r.now = r.now.Add(100 * time.Millisecond) // one token at 10/s
	if !r.send(fltHello(1), addr(100)) || r.send(fltHello(1), addr(101)) {
		t.Error("want exactly one admission after 100 ms")
	}
	r.now = r.now.Add(time.Second) // refills to the burst, not beyond
	admitted = 0
	for i := 200; i < 220; i++ {
		if r.send(fltHello(1), addr(i)) {
			admitted++
		}
	}
	if admitted != 5 {
		t.Errorf("admitted %d after a second, want 5", admitted)
	}
	r.wantDrops(map[string]uint64{"rate": 15 + 1 + 15})
}

func TestFilterRefusalsSpendNoToken(t *testing.T) {
	r := newFltRig(t, filterConfig{newPerSec: 1, newBurst: 1, maxPendingPerIP: 1})
	if !r.send(fltHello(1), "10.0.0.1:1") {
		t.Fatal("first hello refused")
	}
	r.now = r.now.Add(time.Second)
	for i := range 10 { // per-IP refusals must not eat the new token
		r.send(fltHello(1), "10.0.0.1:"+strconv.Itoa(10+i))
	}
	if !r.send(fltHello(1), "10.0.0.2:1") {
		t.Error("token was spent by refused datagrams")
	}
}

func TestFilterPendingExpiry(t *testing.T) {
	r := newFltRig(t, filterConfig{pendingTimeout: 5 * time.Second, maxPending: 2})
	if !r.send(fltHello(1), "10.0.0.1:1") {
		t.Fatal("refused")
	}
	r.now = r.now.Add(2 * time.Second)
	if !r.send(fltHello(2), "10.0.0.2:1") {
		t.Fatal("refused")
	}
	r.f.established(fltAddr("10.0.0.2:1"), 2) // established: never expires
	if !r.send(fltHello(3), "10.0.0.3:1") || r.send(fltHello(4), "10.0.0.4:1") {
		t.Fatal("want the second pending slot taken, then pending_cap")
	}
	r.now = r.now.Add(3*time.Second - time.Nanosecond)
	if !r.send(fltAck(1), "10.0.0.1:1") {
		t.Fatal("expired early")
	}
	r.now = r.now.Add(time.Nanosecond)
	// Expired on this read: the address is unknown again, so its ack is junk.
	if r.send(fltAck(1), "10.0.0.1:1") {
		t.Fatal("an expired pending address still passes")
	}
	s := r.f.stats()
	if s.Expired != 1 || s.Pending != 1 || s.Sessions != 2 || s.SourceIPs != 2 {
		t.Fatalf("after expiry: %+v", s)
	}
	r.now = r.now.Add(time.Hour)
	if !r.send(fltAck(2), "10.0.0.2:1") {
		t.Error("established address expired")
	}
	if s := r.f.stats(); s.Expired != 2 || s.Pending != 0 || s.Sessions != 1 {
		t.Errorf("after all pending expired: %+v", s)
	}
	// A slow handshake: established after its pending entry expired.
	r.f.established(fltAddr("10.0.0.1:1"), 1)
	if !r.send(fltAck(1), "10.0.0.1:1") {
		t.Error("late-established address dropped")
	}
}

func TestFilterEstablishedForget(t *testing.T) {
	r := newFltRig(t, filterConfig{})
	a := "10.0.0.1:4000"
	if !r.send(fltHello(5), a) {
		t.Fatal("refused")
	}
	r.f.established(fltAddr(a), 5)
	if !r.send(fltAck(5), a) {
		t.Fatal("established address dropped")
	}
	if s := r.f.stats(); s.Pending != 0 || s.Sessions != 1 || s.Established != 1 {
		t.Fatalf("%+v", s)
	}
	r.f.forget(fltAddr(a))
	r.f.forget(fltAddr(a)) // twice is harmless
	if r.send(fltAck(5), a) {
		t.Fatal("forgotten address still passes")
	}
	if !r.send(fltHello(6), a) {
		t.Fatal("a new hello from a forgotten address should be admitted")
	}
	if s := r.f.stats(); s.Forgotten != 1 || s.Sessions != 1 || s.SourceIPs != 1 || s.Admitted != 2 {
		t.Errorf("%+v", s)
	}
	// IPv4-mapped IPv6 (a dual-stack socket) is the same address.
	r.f.established(fltAddr("[::ffff:10.0.0.7]:1"), 9)
	if !r.send(fltAck(9), "10.0.0.7:1") {
		t.Error("4in6 and IPv4 forms of one address differ")
	}
}

func TestFilterConvMismatchDropped(t *testing.T) {
	r := newFltRig(t, filterConfig{})
	a := "10.0.0.1:4000"
	r.f.established(fltAddr(a), 0xabcd)
	// A well-formed hello (sn 0, new conv) would make kcp-go replace the
	// live session: the filter must drop it, and any other conv.
	if r.send(fltHello(0xabce), a) || r.send(fltAck(1), a) {
		t.Fatal("conv mismatch passed")
	}
	if !r.send(fltAck(0xabcd), a) {
		t.Fatal("the session's own packet dropped")
	}
	// Too short or not a KCP command from a known address.
	if r.send([]byte{0xcd, 0xab, 0, 0}, a) || r.send(fltSegment(0xabcd, 0xf1, 0, 0, nil), a) {
		t.Fatal("malformed packet from a known address passed")
	}
	r.wantDrops(map[string]uint64{"conv_mismatch": 2, "junk": 2})
}

func TestFilterPassThroughAllocs(t *testing.T) {
	pc := &fltPC{}
	f := newFilterConn(pc, filterConfig{})
	from := fltAddr("10.0.0.1:4000")
	f.established(from, 3)
	pc.repeat = &fltDgram{b: fltSegment(3, kcpCmdPush, 0, 9, make([]byte, 100)), addr: from}
	buf := make([]byte, 1500)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := f.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per datagram on the pass-through path", allocs)
	}
	// The junk path does not allocate either.
	jf := newFilterConn(&fltOnce{d: fltDgram{b: make([]byte, 40), addr: fltAddr("10.0.0.2:4000")}}, filterConfig{})
	allocs = testing.AllocsPerRun(1000, func() {
		jf.pc.(*fltOnce).left = 1
		if _, _, err := jf.ReadFrom(buf); !errors.Is(err, errFltEmpty) {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per junk datagram", allocs)
	}
}

// fltOnce returns its datagram left times, then errFltEmpty.
type fltOnce struct {
	fltPC
	d    fltDgram
	left int
}

func (c *fltOnce) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.left == 0 {
		return 0, nil, errFltEmpty
	}
	c.left--
	return copy(p, c.d.b), c.d.addr, nil
}

// TestFilterRealSocketWithKCP runs kcp-go's listener over a filterConn on a
// loopback socket: junk from one address creates no session, a kcp-go
// client's hello from another does, and kcp-go reads through the wrapper.
func TestFilterRealSocketWithKCP(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close() // ServeConn does not own it
	f := newFilterConn(pc, filterConfig{})
	l, err := kcp.ServeConn(nil, 0, 0, f)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	junk, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	for _, b := range [][]byte{make([]byte, 24), fltAck(1), fltSegment(1, kcpCmdPush, 0, 1, fltHelloFrame())} {
		if _, err := junk.WriteTo(b, pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	c, err := kcp.DialWithOptions(pc.LocalAddr().String(), nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(fltHelloFrame()); err != nil {
		t.Fatal(err)
	}
	_ = l.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := l.AcceptKCP()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.RemoteAddr().(*net.UDPAddr).Port != c.LocalAddr().(*net.UDPAddr).Port {
		t.Fatalf("accepted %v, want the client %v (junk from %v made a session)", s.RemoteAddr(), c.LocalAddr(), junk.LocalAddr())
	}
	got := make([]byte, 64)
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := s.Read(got)
	if err != nil || !bytes.Equal(got[:n], fltHelloFrame()) {
		t.Fatalf("read %x, %v", got[:n], err)
	}
	st := f.stats()
	if st.Admitted != 1 || st.Drops["junk"] != 3 || st.Passed < 1 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("filter over kcp-go: %+v", st)
}

func FuzzFilterClassify(f *testing.F) {
	f.Add(fltHello(1))
	f.Add(fltAck(1))
	f.Add(append(fltHello(2), fltAck(2)...))
	f.Add(fltSegment(1, kcpCmdPush, 0, 0, []byte{0, 0, 0, 9, 0xdc, 0, 4, 1, 1, 0xa0, 0xc0}))
	f.Add(fltSegment(1, kcpCmdPush, 0, 0, []byte{0, 0, 0, 9, 0xdd, 0, 0, 0, 4, 1}))
	f.Add(make([]byte, 24))
	f.Add([]byte{})
	pc := &fltPC{}
	fc := newFilterConn(pc, filterConfig{newPerSec: 1e12, newBurst: 1 << 30})
	from := fltAddr("10.0.0.1:4000")
	f.Fuzz(func(t *testing.T, b []byte) {
		conv, ok := classifyHello(b, 16<<10)
		if ok {
			if len(b) < kcpHeaderSize || b[4] != kcpCmdPush || binary.LittleEndian.Uint32(b[12:]) != 0 ||
				conv != binary.LittleEndian.Uint32(b) {
				t.Fatalf("admitted %x", b)
			}
			n := binary.LittleEndian.Uint32(b[20:])
			if int(n) > len(b)-kcpHeaderSize || n < 6 {
				t.Fatalf("admitted a segment whose len %d does not fit %d bytes", n, len(b))
			}
		}
		// Through the whole check too, from an unknown and a known address.
		fc.forget(from)
		if _, passed := fc.check(b, from); passed != ok {
			t.Fatalf("check passed=%v, classify ok=%v", passed, ok)
		}
		fc.established(from, 1)
		if _, passed := fc.check(b, from); passed && (len(b) < kcpHeaderSize || binary.LittleEndian.Uint32(b) != 1) {
			t.Fatalf("known address passed %x", b)
		}
	})
}
