package kcpx

import (
	"reflect"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// kcpNowSrc is a KCP that is never updated: its Check returns kcp-go's own
// millisecond clock, which Check, Update and the resend times use. The
// caller schedules on the same clock (read once per operation), so the
// delay until a KCP's resend is exact.
var kcpNowSrc = kcp.NewKCP(0, func([]byte, int) {})

// Now is kcp-go's clock, in ms.
func Now() uint32 { return kcpNowSrc.Check() }

// Before reports whether kcp-go time a is earlier than b (the clock wraps
// after 49 days; times compared are never that far apart).
func Before(a, b uint32) bool { return int32(a-b) < 0 }

// tsFlushOff is the offset of KCP.ts_flush, or noOffset if this kcp-go does
// not have a uint32 field of that name.
//
// kcp-go exports no flush: Update flushes only once ts_flush is reached (up
// to one interval away), while its own UDPSession.Write flushes at once. To
// send the tick's frames with no added delay, FlushNow sets ts_flush to now
// and calls Update, which then flushes exactly as Write does.
var tsFlushOff = kcpField("ts_flush", reflect.Uint32)

// FlushNow flushes k at once (acks, new data within the window, due
// resends); now is Now(). Without the field it falls back to Update,
// which flushes at the KCP's next interval.
func FlushNow(k *kcp.KCP, now uint32) {
	if tsFlushOff != noOffset {
		*(*uint32)(unsafe.Add(unsafe.Pointer(k), tsFlushOff)) = now
	}
	k.Update()
}
