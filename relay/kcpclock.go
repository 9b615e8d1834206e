package relay

import (
	"reflect"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// kcpNowSrc is a KCP that is never updated: its Check returns kcp-go's own
// millisecond clock, which Check and Update use, so that the delay until a
// session's Check time is exact. Check on it only reads.
var kcpNowSrc = kcp.NewKCP(0, func([]byte, int) {})

func kcpNow() uint32 { return kcpNowSrc.Check() }

// tsFlushOff is the offset of KCP.ts_flush, or -1 if this kcp-go does not
// have a uint32 field of that name.
//
// kcp-go exports no flush: Update flushes only once ts_flush is reached (up
// to one interval away), while its own UDPSession.Write flushes at once. To
// send the tick's frames with no added delay, flushNow sets ts_flush to now
// and calls Update, which then flushes exactly as Write does.
var tsFlushOff = func() uintptr {
	f, ok := reflect.TypeOf(kcp.KCP{}).FieldByName("ts_flush")
	if !ok || f.Type.Kind() != reflect.Uint32 {
		return ^uintptr(0)
	}
	return f.Offset
}()

// flushNow flushes k at once (acks, new data within the window, due
// resends). Without the field it falls back to Update, which flushes at the
// session's next interval.
func flushNow(k *kcp.KCP) {
	if tsFlushOff != ^uintptr(0) {
		*(*uint32)(unsafe.Add(unsafe.Pointer(k), tsFlushOff)) = kcpNow()
	}
	k.Update()
}
