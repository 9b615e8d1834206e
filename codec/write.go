package codec

import (
	"encoding/binary"
	"math"
)

// The append functions below write msgpack in its smallest form. They are
// the hot path of frame building: each one appends to a caller-owned buffer
// so that a reused buffer makes encoding allocation-free.

// AppendNil appends msgpack nil.
func AppendNil(b []byte) []byte { return append(b, 0xc0) }

// AppendBool appends a msgpack boolean.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// AppendUint appends a non-negative integer in the smallest encoding.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= 0xff:
		return append(b, 0xcc, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
	}
}

// AppendInt appends a signed integer in the smallest encoding; non-negative
// values use the unsigned forms, as most msgpack encoders do.
func AppendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return AppendUint(b, uint64(v))
	}
	switch {
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
	}
}

// AppendFloat64 appends a float64.
func AppendFloat64(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v))
}

// AppendStr appends a UTF-8 string (its bytes are not validated).
func AppendStr(b []byte, s string) []byte {
	b = appendStrHeader(b, len(s))
	return append(b, s...)
}

// AppendStrBytes appends a string given as bytes.
func AppendStrBytes(b []byte, s []byte) []byte {
	b = appendStrHeader(b, len(s))
	return append(b, s...)
}

func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n <= 31:
		return append(b, 0xa0|byte(n))
	case n <= 0xff:
		return append(b, 0xd9, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
}

// AppendBin appends a byte string.
func AppendBin(b []byte, v []byte) []byte {
	n := len(v)
	switch {
	case n <= 0xff:
		b = append(b, 0xc4, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, v...)
}

// AppendArrayLen appends an array header for n elements.
func AppendArrayLen(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x90|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

// AppendMapLen appends a map header for n key/value pairs.
func AppendMapLen(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x80|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
	}
}

// AppendRaw appends bytes that already hold one encoded msgpack value.
func AppendRaw(b []byte, raw []byte) []byte { return append(b, raw...) }

// AppendRawOrNil appends raw, or nil when raw is empty.
func AppendRawOrNil(b []byte, raw []byte) []byte {
	if len(raw) == 0 {
		return AppendNil(b)
	}
	return append(b, raw...)
}
