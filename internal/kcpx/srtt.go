package kcpx

import (
	"reflect"
	"time"
	"unsafe"

	kcp "github.com/xtaci/kcp-go/v5"
)

// srttOff is the offset of KCP.rx_srtt (the smoothed round trip, ms), or
// noOffset if this kcp-go has no int32 field of that name. kcp-go exports
// it only through UDPSession, which the relay does not use.
var srttOff = kcpField("rx_srtt", reflect.Int32)

// SRTT is k's smoothed round-trip time, 0 before the first sample or if it
// cannot be read. The caller holds whatever lock guards k.
func SRTT(k *kcp.KCP) time.Duration {
	if srttOff == noOffset {
		return 0
	}
	return time.Duration(*(*int32)(unsafe.Add(unsafe.Pointer(k), srttOff))) * time.Millisecond
}
