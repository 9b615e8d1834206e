package kcpx

import (
	"reflect"
	"sync"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// kcp-go bounds the retransmission timeout below by 30 ms in no-delay mode
// and offers no setter. A relay's clients may hold their acks for up to
// about a tick, to send them in the datagram that carries their next state
// (the Godot client does, by default): on a short path the round trips
// KCP measures are then mostly that hold, and with a 30 ms bound 0.5-2% of
// the frames sent to 2,000 such clients timed out and went again although
// none was lost (BENCHMARKS.md, round 6). SetMinRTO raises the bound
// through the unexported field, found by name and type when the package
// loads.

// minRTOOff is the offset of KCP.rx_minrto, or noOffset if this kcp-go
// has no uint32 field of that name.
var minRTOOff = kcpField("rx_minrto", reflect.Uint32)

// MinRTOForTick is the resend bound for a peer that holds its acks for up
// to one tick at tickRate (> 0) ticks per second: kcp-go's own bound plus
// the tick. The relay holds its clients' acks so, and its clients hold the
// relay's (the Godot client does, by default).
func MinRTOForTick(tickRate int) uint32 {
	return uint32(kcp.IKCP_RTO_NDL + 1000/tickRate)
}

// SetMinRTO sets k's lower bound on the retransmission timeout to ms. Call
// it after NoDelay, which resets the bound. It reports whether it could.
func SetMinRTO(k *kcp.KCP, ms uint32) bool {
	if minRTOOff == noOffset {
		return false
	}
	*(*uint32)(unsafe.Add(unsafe.Pointer(k), minRTOOff)) = ms
	return true
}

// The Go client runs kcp-go's UDPSession, whose KCP is unexported too and
// guarded by the session's unexported mutex, which kcp-go's own updater
// takes. sessMuOff and sessKCPOff are their offsets, found by name and
// type when the package loads, or noOffset.
var sessMuOff, sessKCPOff = func() (uintptr, uintptr) {
	t := reflect.TypeOf(kcp.UDPSession{})
	mu, ok1 := t.FieldByName("mu")
	k, ok2 := t.FieldByName("kcp")
	if !ok1 || !ok2 || mu.Type != reflect.TypeOf(sync.Mutex{}) || k.Type != reflect.TypeOf(&kcp.KCP{}) {
		return noOffset, noOffset
	}
	return mu.Offset, k.Offset
}()

// SetSessionMinRTO is SetMinRTO for the KCP inside s, under s's lock. Call
// it after SetNoDelay, which resets the bound. It reports whether it could.
func SetSessionMinRTO(s *kcp.UDPSession, ms uint32) bool {
	ok := false
	withSessionKCP(s, func(k *kcp.KCP) { ok = SetMinRTO(k, ms) })
	return ok
}

// SessionMinRTO returns the bound SetSessionMinRTO sets, or 0 if it cannot
// be read.
func SessionMinRTO(s *kcp.UDPSession) uint32 {
	var ms uint32
	withSessionKCP(s, func(k *kcp.KCP) {
		if minRTOOff != noOffset {
			ms = *(*uint32)(unsafe.Add(unsafe.Pointer(k), minRTOOff))
		}
	})
	return ms
}

func withSessionKCP(s *kcp.UDPSession, fn func(*kcp.KCP)) {
	if sessMuOff == noOffset || s == nil {
		return
	}
	mu := (*sync.Mutex)(unsafe.Add(unsafe.Pointer(s), sessMuOff))
	k := *(**kcp.KCP)(unsafe.Add(unsafe.Pointer(s), sessKCPOff))
	if k == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	fn(k)
}
