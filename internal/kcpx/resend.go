package kcpx

import (
	"reflect"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// kcp-go's Check never looks further ahead than one interval, so a relay
// session with a frame in flight would be woken every 10 ms although
// nothing is due until its earliest resend (the tick sends the next frame,
// and Input flushes whenever an ack slides the window or triggers a fast
// resend). ResendIn reads that time from KCP's send buffer, an unexported
// field. Its layout is compared with the mirror types below, field by
// field, when the package loads; if kcp-go ever changes it, ResendIn
// reports !ok and the caller falls back to Check.

type segmentMirror struct {
	conv     uint32
	cmd      uint8
	frg      uint8
	wnd      uint16
	ts       uint32
	sn       uint32
	una      uint32
	rto      uint32
	xmit     uint32
	resendts uint32
	fastack  uint32
	acked    uint32
	data     []byte
}

type ringMirror struct {
	head     int
	tail     int
	elements []segmentMirror
}

const noOffset = ^uintptr(0)

// kcpField is the offset of KCP's field name if it has kind, else noOffset:
// how this package reaches kcp-go's unexported state, checked when it loads.
func kcpField(name string, kind reflect.Kind) uintptr {
	f, ok := reflect.TypeOf(kcp.KCP{}).FieldByName(name)
	if !ok || f.Type.Kind() != kind {
		return noOffset
	}
	return f.Offset
}

// sndBufOff is the offset of KCP.snd_buf, or noOffset if its layout is not
// the mirror's.
var sndBufOff = func() uintptr {
	f, ok := reflect.TypeOf(kcp.KCP{}).FieldByName("snd_buf")
	if !ok || f.Type.Kind() != reflect.Pointer || !sameLayout(f.Type.Elem(), reflect.TypeOf(ringMirror{})) {
		return noOffset
	}
	return f.Offset
}()

// sameLayout reports whether a and b have the same kinds, sizes, and (for
// structs) field names and offsets, through pointers, slices and arrays.
func sameLayout(a, b reflect.Type) bool {
	if a.Kind() != b.Kind() || a.Size() != b.Size() {
		return false
	}
	switch a.Kind() {
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			return false
		}
		for i := range a.NumField() {
			fa, fb := a.Field(i), b.Field(i)
			if fa.Name != fb.Name || fa.Offset != fb.Offset || !sameLayout(fa.Type, fb.Type) {
				return false
			}
		}
	case reflect.Array:
		return a.Len() == b.Len() && sameLayout(a.Elem(), b.Elem())
	case reflect.Pointer, reflect.Slice:
		return sameLayout(a.Elem(), b.Elem())
	case reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return false // not in the mirrored types: refuse rather than guess
	}
	return true
}

// ResendIn reports, for k's send buffer at kcp-go time now: ms until its
// first timeout resend (0 if one is due), at most interval when a segment
// waits for an early retransmit that Input left to the next flush, or -1
// when nothing is unacknowledged; and how many segments the buffer holds.
// ok is false when the layout check failed. The caller holds whatever lock guards k.
func ResendIn(k *kcp.KCP, now uint32, interval int) (ms, held int, ok bool) {
	if sndBufOff == noOffset {
		return 0, 0, false
	}
	r := *(**ringMirror)(unsafe.Add(unsafe.Pointer(k), sndBufOff))
	ms = -1
	n := len(r.elements)
	if n == 0 {
		return -1, 0, true
	}
	for i := r.head; i != r.tail; i = (i + 1) % n {
		seg := &r.elements[i]
		held++
		if seg.acked == 1 {
			continue
		}
		d := max(0, int(int32(seg.resendts-now)))
		if seg.fastack > 0 && seg.fastack != 0xFFFFFFFF {
			d = min(d, interval)
		}
		if ms < 0 || d < ms {
			ms = d
		}
	}
	return ms, held, true
}
