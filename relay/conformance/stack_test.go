package conformance

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

// Tests of the suite's own client stack, without a relay: if the stack is
// wrong, every verdict about the relay is worthless.

func TestStackMsgpackSmallestIntegers(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{0, "00"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"}, {65535, "cdffff"},
		{65536, "ce00010000"}, {uint64(math.MaxUint32), "ceffffffff"}, {uint64(1) << 32, "cf0000000100000000"},
		{-1, "ff"}, {-32, "e0"}, {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"}, {-32768, "d18000"},
		{-32769, "d2ffff7fff"}, {int64(math.MinInt32) - 1, "d3ffffffff7fffffff"},
		{1700000000000, "cf0000018bcfe56800"},
		{"", "a0"}, {strings.Repeat("x", 31), "bf" + strings.Repeat("78", 31)},
		{strings.Repeat("x", 32), "d920" + strings.Repeat("78", 32)},
		{[]byte{1}, "c40101"}, {nil, "c0"}, {true, "c3"}, {false, "c2"},
		{1.5, "cb3ff8000000000000"}, {Float32(1.5), "ca3fc00000"},
		{Ext{1, make([]byte, 8)}, "d701" + strings.Repeat("00", 8)},
		{Ext{2, make([]byte, 12)}, "c70c02" + strings.Repeat("00", 12)},
		{Ext{3, make([]byte, 16)}, "d803" + strings.Repeat("00", 16)},
		{Map{{"a", 1}}, "81a16101"}, {[]any{1, "a"}, "9201a161"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(Encode(c.v)); got != c.want {
			t.Errorf("Encode(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestStackMsgpackRoundTrip(t *testing.T) {
	v := []any{1, -5, "str", []byte{9}, nil, true, 2.5, Float32(0.5), Map{{"k", []any{}}}, Ext{-1, []byte{1, 2, 3}},
		uint64(math.MaxUint64), int64(math.MinInt64), make([]any, 20), strings.Repeat("y", 300)}
	b := Encode(v)
	n, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(n.Raw, b) || n.Kind != KindArray || n.Len() != len(v) {
		t.Fatalf("decoded %v", n)
	}
	for i, it := range n.Items {
		if !bytes.Equal(it.Raw, Encode(v[i])) {
			t.Errorf("item %d: raw % x, want % x", i, it.Raw, Encode(v[i]))
		}
	}
	if n.Items[1].Kind != KindInt || n.Items[1].Int != -5 || n.Items[10].Uint != math.MaxUint64 ||
		n.Items[11].Int != math.MinInt64 || n.Items[6].Float != 2.5 || n.Items[7].Float != 0.5 {
		t.Errorf("values: %v", n.Items)
	}
	if s := Minimal(n, nil); s != "" {
		t.Errorf("Minimal: %s", s)
	}
	// Any width decodes; Minimal names the wide one.
	wide, _ := Decode([]byte{0x92, 0xcd, 0x00, 0x05, 0xd0, 0x05})
	if wide.Items[0].Uint != 5 || wide.Items[1].Uint != 5 || Minimal(wide, nil) == "" {
		t.Errorf("wide integers: %v, %q", wide.Items, Minimal(wide, nil))
	}
}

func TestStackMsgpackRefusesHostileInput(t *testing.T) {
	cases := map[string]string{
		"array of 2^32-1": "ddffffffff",
		"map of 2^31":     "df7fffffff",
		"str past end":    "db7fffffff78",
		"bin past end":    "c6000000ff",
		"ext past end":    "c9000000ff01",
		"int cut":         "cd00",
		"empty":           "",
		"invalid byte":    "c1",
		"trailing":        "0000",
	}
	for name, h := range cases {
		b, _ := hex.DecodeString(h)
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, maxDepth+2)
	if _, err := Decode(append(deep, 0)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("deep nesting: %v", err)
	}
}

// kcpPair connects two KCP endpoints through queues the test delivers.
type kcpPair struct {
	a, b       *KCP
	toA, toB   [][]byte
	dropToB    func(d []byte) bool
	now        uint32
	deliveredB int
}

func newKCPPair(cfg KCPConfig) *kcpPair {
	p := &kcpPair{now: 1}
	p.a = NewKCP(7, cfg, func(d []byte) { p.toB = append(p.toB, bytes.Clone(d)) })
	p.b = NewKCP(7, cfg, func(d []byte) { p.toA = append(p.toA, bytes.Clone(d)) })
	return p
}

// step advances time by ms, flushes both ends and delivers everything.
func (p *kcpPair) step(t *testing.T, ms uint32) {
	p.now += ms
	p.a.Flush(p.now)
	p.b.Flush(p.now)
	for len(p.toA) > 0 || len(p.toB) > 0 {
		toB, toA := p.toB, p.toA
		p.toA, p.toB = nil, nil
		for _, d := range toB {
			if p.dropToB != nil && p.dropToB(d) {
				continue
			}
			p.deliveredB++
			if err := p.b.Input(d, p.now); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range toA {
			if err := p.a.Input(d, p.now); err != nil {
				t.Fatal(err)
			}
		}
		p.a.Flush(p.now)
		p.b.Flush(p.now)
	}
}

func TestStackKCPReassemblesInOrderAcrossLoss(t *testing.T) {
	p := newKCPPair(KCPConfig{MTU: 100, RTO: 50})
	big := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes: 14 fragments of 76
	if err := p.a.Send(big); err != nil {
		t.Fatal(err)
	}
	if err := p.a.Send([]byte("after")); err != nil {
		t.Fatal(err)
	}
	// Drop every third datagram once.
	seen := map[string]bool{}
	n := 0
	p.dropToB = func(d []byte) bool {
		n++
		if n%3 == 0 && !seen[string(d)] {
			seen[string(d)] = true
			return true
		}
		return false
	}
	for range 20 {
		p.step(t, 60)
	}
	if got := p.b.Recv(); !bytes.Equal(got, big) {
		t.Fatalf("first message: %d bytes", len(got))
	}
	if got := p.b.Recv(); string(got) != "after" {
		t.Fatalf("second message: %q", got)
	}
	if p.a.Resent == 0 || p.a.WaitSend() != 0 {
		t.Fatalf("resent %d, waiting %d", p.a.Resent, p.a.WaitSend())
	}
}

func TestStackKCPWindowClosesAndReopens(t *testing.T) {
	p := newKCPPair(KCPConfig{RecvWindow: 4, RTO: 50})
	for i := range 10 {
		_ = p.a.Send([]byte{byte(i)})
	}
	p.step(t, 10)
	p.step(t, 60)
	if p.a.WaitSend() == 0 {
		t.Fatal("everything went through a window of 4 unread")
	}
	var got []byte
	for range 20 {
		for m := p.b.Recv(); m != nil; m = p.b.Recv() {
			got = append(got, m...)
		}
		p.step(t, 60)
	}
	if !bytes.Equal(got, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("got %v", got)
	}
}

func TestStackKCPSequenceNumbersWrap(t *testing.T) {
	if !before(math.MaxUint32, 0) || before(0, math.MaxUint32) || !before(1, 2) {
		t.Fatal("before does not wrap")
	}
	p := newKCPPair(KCPConfig{})
	p.a.sndNxt, p.a.sndUna = math.MaxUint32-1, math.MaxUint32-1
	p.b.rcvNxt = math.MaxUint32 - 1
	for i := range 4 {
		_ = p.a.Send([]byte{byte(i)})
	}
	p.step(t, 10)
	for i := range 4 {
		if m := p.b.Recv(); len(m) != 1 || m[0] != byte(i) {
			t.Fatalf("message %d: %v", i, m)
		}
	}
	if p.a.WaitSend() != 0 {
		t.Fatal("acks across the wrap were not applied")
	}
}

func TestStackKCPRefusesBadDatagrams(t *testing.T) {
	k := NewKCP(7, KCPConfig{}, func([]byte) {})
	seg := (&Segment{Conv: 7, Cmd: CmdPush, Data: []byte("x")}).AppendTo(nil)
	cases := map[string][]byte{
		"short":      seg[:10],
		"length":     append(bytes.Clone(seg[:20]), 0xff, 0, 0, 0, 'x'),
		"command":    append([]byte{7, 0, 0, 0, 99}, seg[5:]...),
		"other conv": append([]byte{8, 0, 0, 0}, seg[4:]...),
	}
	for name, d := range cases {
		if err := k.Input(d, 1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
