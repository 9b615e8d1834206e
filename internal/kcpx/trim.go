package kcpx

import (
	"reflect"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// A new kcp-go KCP holds three segment rings of 64 entries each (12 KiB:
// snd_queue, snd_buf, rcv_queue) and an output buffer of three MTUs, sized
// for a bulk stream. A relay session keeps a handful of segments in them
// (MaxInFlight frames and one tick's input), and flush never writes more
// than an MTU into the buffer before handing it to output. Those were about
// 15 of a session's 23 KiB of heap, so Trim replaces them with small
// ones: the rings still grow on demand (kcp-go's Push grows a full ring), so
// a session that needs more gets it, once. Like ResendIn it works through
// the mirror types, checked field by field against kcp-go's when the package
// loads; if the layout differs, Trim leaves the KCP as it is.

// TrimmedRing is the capacity a trimmed ring starts with: kcp-go's minimum
// (it holds one less, then doubles).
const TrimmedRing = kcp.RINGBUFFER_MIN

// kcpTrimOffsets are the offsets in KCP of the fields Trim replaces.
type kcpTrimOffsets struct {
	rings  [3]uintptr // snd_queue, snd_buf, rcv_queue
	buffer uintptr
}

// trimOffsets is nil if any of those fields does not match the mirror.
var trimOffsets = func() *kcpTrimOffsets {
	t := reflect.TypeOf(kcp.KCP{})
	var o kcpTrimOffsets
	for i, name := range []string{"snd_queue", "snd_buf", "rcv_queue"} {
		f, ok := t.FieldByName(name)
		if !ok || f.Type.Kind() != reflect.Pointer || !sameLayout(f.Type.Elem(), reflect.TypeOf(ringMirror{})) {
			return nil
		}
		o.rings[i] = f.Offset
	}
	f, ok := t.FieldByName("buffer")
	if !ok || f.Type != reflect.TypeOf([]byte(nil)) {
		return nil
	}
	o.buffer = f.Offset
	return &o
}()

// Trim shrinks a new (or empty) KCP's rings and sizes its output buffer
// to its MTU; call it after SetMtu, which reallocates the buffer. It reports
// whether it did; rings holding segments are left alone.
func Trim(k *kcp.KCP, mtu int) bool {
	o := trimOffsets
	if o == nil {
		return false
	}
	for _, off := range o.rings {
		r := *(**ringMirror)(unsafe.Add(unsafe.Pointer(k), off))
		if r.head != r.tail {
			return false
		}
	}
	for _, off := range o.rings {
		r := *(**ringMirror)(unsafe.Add(unsafe.Pointer(k), off))
		r.head, r.tail = 0, 0
		r.elements = make([]segmentMirror, TrimmedRing)
	}
	// flush checks size+need > mtu before each write, so it never writes
	// past mtu; one header of slack on top.
	*(*[]byte)(unsafe.Add(unsafe.Pointer(k), o.buffer)) = make([]byte, mtu+kcp.IKCP_OVERHEAD)
	return true
}
