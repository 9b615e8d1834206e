package kcpx

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// ringCaps reads the capacities of k's snd_queue, snd_buf and rcv_queue.
func ringCaps(k *kcp.KCP) [3]int {
	var c [3]int
	for i, off := range trimOffsets.rings {
		c[i] = len((*(**ringMirror)(unsafe.Add(unsafe.Pointer(k), off))).elements)
	}
	return c
}

func outputBuffer(k *kcp.KCP) []byte {
	return *(*[]byte)(unsafe.Add(unsafe.Pointer(k), trimOffsets.buffer))
}

// TestTrimKCPCarriesBurstsAndResends trims both ends of a KCP pair, then
// pushes bursts far larger than the trimmed rings through them, fragmented
// messages and a fast retransmit included, and checks every message arrives
// intact and in order, no datagram exceeds the MTU, and the rings grew.
func TestTrimKCPCarriesBurstsAndResends(t *testing.T) {
	if trimOffsets == nil {
		t.Fatal("kcp-go's KCP no longer has the mirrored rings and buffer: sessions keep kcp-go's default sizes")
	}
	const mtu = 1200
	p := newKCPPair()
	for _, k := range []*kcp.KCP{p.a, p.b} {
		k.WndSize(128, 128)
		k.SetMtu(mtu)
		if !Trim(k, mtu) {
			t.Fatal("Trim refused a new KCP")
		}
		if c := ringCaps(k); c != [3]int{TrimmedRing, TrimmedRing, TrimmedRing} {
			t.Fatalf("ring capacities after Trim: %v", c)
		}
		if n := len(outputBuffer(k)); n != mtu+kcp.IKCP_OVERHEAD {
			t.Fatalf("output buffer: %d bytes", n)
		}
	}

	msg := func(i int) []byte {
		b := make([]byte, 1+(i*397)%(3*(mtu-kcp.IKCP_OVERHEAD)))
		copy(b, fmt.Sprintf("message %d;", i))
		return b
	}
	const total, burst = 400, 40
	sent, got := 0, 0
	rb := make([]byte, 4*mtu)
	for round := 0; got < total; round++ {
		if round > 200 {
			t.Fatalf("stalled: %d of %d messages delivered", got, total)
		}
		for ; sent < min(total, (round+1)*burst); sent++ {
			if p.a.Send(msg(sent)) != 0 {
				t.Fatalf("Send %d refused", sent)
			}
		}
		FlushNow(p.a, Now())
		if round == 2 && len(p.toB) > 1 {
			p.toB = p.toB[1:] // lost: resent when later acks count past it
		}
		for _, d := range p.toB {
			if len(d) > mtu {
				t.Fatalf("datagram of %d bytes, MTU %d", len(d), mtu)
			}
		}
		deliver(p.b, &p.toB)
		for {
			n := p.b.Recv(rb)
			if n < 0 {
				break
			}
			if want := msg(got); !bytes.Equal(rb[:n], want) {
				t.Fatalf("message %d: got %d bytes %.12q, want %d bytes %.12q", got, n, rb[:n], len(want), want)
			}
			got++
		}
		FlushNow(p.b, Now())
		deliver(p.a, &p.toA)
	}
	if c := ringCaps(p.a); c[0] <= TrimmedRing || c[1] <= TrimmedRing {
		t.Errorf("sender's rings did not grow: %v", c)
	}
	if c := ringCaps(p.b); c[2] <= TrimmedRing {
		t.Errorf("receiver's queue did not grow: %v", c)
	}
}

func TestTrimKCPLeavesABusyKCPAlone(t *testing.T) {
	p := newKCPPair()
	p.a.Send(make([]byte, 10))
	before := ringCaps(p.a)
	if Trim(p.a, 1200) {
		t.Fatal("Trim trimmed a KCP with a queued segment")
	}
	if after := ringCaps(p.a); after != before {
		t.Fatalf("ring capacities changed from %v to %v", before, after)
	}
}
