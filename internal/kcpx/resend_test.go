package kcpx

import (
	"reflect"
	"testing"

	kcp "github.com/xtaci/kcp-go/v5"
)

func TestSendBufferMirrorMatchesKCP(t *testing.T) {
	if sndBufOff == noOffset {
		t.Fatal("kcp-go's send buffer no longer has the mirrored layout: the updater falls back to waking every interval")
	}
	if tsFlushOff == noOffset {
		t.Fatal("kcp-go's KCP has no ts_flush: frames would wait up to an interval")
	}
	// The check must refuse a layout that differs in any way.
	type renamed struct {
		head, tail int
		elems      []segmentMirror
	}
	type shorter struct {
		head, tail int
		elements   []struct{ conv uint32 }
	}
	ring := reflect.TypeOf(ringMirror{})
	for _, other := range []reflect.Type{reflect.TypeOf(renamed{}), reflect.TypeOf(shorter{}), reflect.TypeOf(0)} {
		if sameLayout(ring, other) {
			t.Errorf("sameLayout(ringMirror, %v) = true", other)
		}
	}
}

// kcpPair is two KCPs whose output is kept until delivered by hand.
type kcpPair struct {
	a, b       *kcp.KCP
	toA, toB   [][]byte
	dropToPeer bool
}

func newKCPPair() *kcpPair {
	p := &kcpPair{}
	p.a = kcp.NewKCP(7, func(buf []byte, n int) {
		if !p.dropToPeer {
			p.toB = append(p.toB, append([]byte(nil), buf[:n]...))
		}
	})
	p.b = kcp.NewKCP(7, func(buf []byte, n int) { p.toA = append(p.toA, append([]byte(nil), buf[:n]...)) })
	for _, k := range []*kcp.KCP{p.a, p.b} {
		k.NoDelay(1, 10, 2, 1)
	}
	return p
}

func deliver(k *kcp.KCP, q *[][]byte) {
	for _, d := range *q {
		k.Input(d, kcp.IKCP_PACKET_REGULAR, false)
	}
	*q = nil
}

func TestResendInFollowsTheSendBuffer(t *testing.T) {
	p := newKCPPair()
	now := Now()
	if ms, held, ok := ResendIn(p.a, now, 10); !ok || ms != -1 || held != 0 {
		t.Fatalf("empty: ResendIn = %d, %d, %v; want -1, 0, true", ms, held, ok)
	}
	p.a.Send(make([]byte, 100))
	p.a.Send(make([]byte, 100))
	FlushNow(p.a, now)
	ms, held, ok := ResendIn(p.a, now, 10)
	if !ok || held != 2 || ms < 30 {
		t.Fatalf("after sending: ResendIn = %d, %d, %v; want >= 30 ms (the minimum RTO), 2 held", ms, held, ok)
	}
	// Check caps its answer at one interval; ResendIn does not. (The
	// flush reads kcp-go's clock itself: it may be a millisecond past now.)
	if d := int(int32(p.a.Check() - now)); d > 10+1 {
		t.Fatalf("Check looks %d ms ahead: the reason for ResendIn is gone", d)
	}
	// At the resend time it is due, and a flush then resends.
	if ms2, _, _ := ResendIn(p.a, now+uint32(ms), 10); ms2 != 0 {
		t.Fatalf("at the resend time: %d ms, want 0", ms2)
	}
	// Once acknowledged, nothing is in flight.
	deliver(p.b, &p.toB)
	FlushNow(p.b, now)
	deliver(p.a, &p.toA)
	if ms, held, _ := ResendIn(p.a, Now(), 10); ms != -1 || held != 0 {
		t.Fatalf("after the acks: ResendIn = %d, %d; want -1, 0", ms, held)
	}
}

func TestResendInWaitsAtMostAnIntervalForAnEarlyRetransmit(t *testing.T) {
	p := newKCPPair()
	now := Now()
	p.dropToPeer = true
	p.a.Send(make([]byte, 100)) // lost
	FlushNow(p.a, now)
	p.dropToPeer = false
	p.a.Send(make([]byte, 100))
	FlushNow(p.a, now)
	// The peer acks the second segment only: the first gets a fast ack
	// count, which the next flush answers with an early retransmit.
	deliver(p.b, &p.toB)
	FlushNow(p.b, now)
	deliver(p.a, &p.toA)
	ms, held, _ := ResendIn(p.a, now, 10)
	if held == 0 || ms < 0 || ms > 10 {
		t.Fatalf("ResendIn = %d ms, %d held; want at most one interval", ms, held)
	}
}
