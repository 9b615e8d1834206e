package kcpx

import (
	"encoding/binary"
	"testing"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// SRTT reads the round trip KCP measured. The acks from b to a are made to
// echo a send time 40 ms older than it was, so a measures 40 ms without
// the test waiting for anything.
func TestSRTTReadsTheMeasuredRoundTrip(t *testing.T) {
	var toA, toB [][]byte
	a := kcp.NewKCP(1, func(buf []byte, n int) { toB = append(toB, append([]byte(nil), buf[:n]...)) })
	b := kcp.NewKCP(1, func(buf []byte, n int) {
		d := append([]byte(nil), buf[:n]...)
		for off := 0; off+24 <= len(d); off += 24 + int(binary.LittleEndian.Uint32(d[off+20:])) {
			if d[off+4] == 82 { // ack: echo an older send time
				binary.LittleEndian.PutUint32(d[off+8:], binary.LittleEndian.Uint32(d[off+8:])-40)
			}
		}
		toA = append(toA, d)
	})
	a.NoDelay(1, 10, 2, 1)
	b.NoDelay(1, 10, 2, 1)
	if SRTT(a) != 0 {
		t.Fatalf("before any sample: %v", SRTT(a))
	}
	buf := make([]byte, 64)
	for range 10 {
		a.Send([]byte("ping"))
		FlushNow(a, Now())
		for _, d := range toB {
			b.Input(d, kcp.IKCP_PACKET_REGULAR, true)
		}
		toB = toB[:0]
		b.Recv(buf)
		FlushNow(b, Now())
		for _, d := range toA {
			a.Input(d, kcp.IKCP_PACKET_REGULAR, true)
		}
		toA = toA[:0]
	}
	if got := SRTT(a); got < 38*time.Millisecond || got > 60*time.Millisecond {
		t.Fatalf("SRTT %v, want about 40 ms", got)
	}
}
