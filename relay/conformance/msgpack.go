package conformance

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The encoder follows PROTOCOL.md section 3: integers in their smallest
// encoding, floats as float64, strings as str and raw bytes as bin. It is
// deliberately separate from the relay's codec: a bug shared by both would
// otherwise pass every test.

// Map is a msgpack map with its keys in the order given (msgpack maps are
// ordered on the wire, and the golden examples fix the order).
type Map []KV

// KV is one map entry.
type KV struct {
	Key   any
	Value any
}

// Raw is an already encoded msgpack value, appended as is.
type Raw []byte

// Ext is a msgpack extension value (the Godot types of section 3).
type Ext struct {
	Type int8
	Data []byte
}

// Float32 encodes as msgpack float32 (ca); plain float64 values encode as cb.
type Float32 float32

// Encode returns the msgpack encoding of v.
func Encode(v any) []byte { return Append(nil, v) }

// Append appends the msgpack encoding of v to b. It panics on a type it
// does not know: values come from the tests, never from the network.
func Append(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 0xc0)
	case bool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case int:
		return AppendInt(b, int64(v))
	case int8:
		return AppendInt(b, int64(v))
	case int16:
		return AppendInt(b, int64(v))
	case int32:
		return AppendInt(b, int64(v))
	case int64:
		return AppendInt(b, v)
	case uint:
		return AppendUint(b, uint64(v))
	case uint8:
		return AppendUint(b, uint64(v))
	case uint16:
		return AppendUint(b, uint64(v))
	case uint32:
		return AppendUint(b, uint64(v))
	case uint64:
		return AppendUint(b, v)
	case float64:
		b = append(b, 0xcb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	case Float32:
		b = append(b, 0xca)
		return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(v)))
	case string:
		return AppendStr(b, v)
	case []byte:
		return AppendBin(b, v)
	case Raw:
		return append(b, v...)
	case []any:
		b = AppendArrayLen(b, len(v))
		for _, e := range v {
			b = Append(b, e)
		}
		return b
	case Map:
		b = AppendMapLen(b, len(v))
		for _, kv := range v {
			b = Append(Append(b, kv.Key), kv.Value)
		}
		return b
	case Ext:
		return AppendExt(b, v.Type, v.Data)
	default:
		panic(fmt.Sprintf("conformance: cannot encode %T", v))
	}
}

// AppendUint appends v in its smallest unsigned encoding.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// AppendInt appends v in its smallest encoding: unsigned for v >= 0.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(int8(v)))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(v)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// AppendStr appends s as a msgpack str.
func AppendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n <= 31:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendBin appends p as a msgpack bin.
func AppendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// AppendArrayLen appends an array header for n elements.
func AppendArrayLen(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendMapLen appends a map header for n entries.
func AppendMapLen(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// AppendExt appends an extension value in its smallest encoding (fixext
// for 1, 2, 4, 8 and 16 bytes, else ext8/16/32).
func AppendExt(b []byte, typ int8, data []byte) []byte {
	n := len(data)
	switch n {
	case 1:
		b = append(b, 0xd4)
	case 2:
		b = append(b, 0xd5)
	case 4:
		b = append(b, 0xd6)
	case 8:
		b = append(b, 0xd7)
	case 16:
		b = append(b, 0xd8)
	default:
		switch {
		case n <= math.MaxUint8:
			b = append(b, 0xc7, byte(n))
		case n <= math.MaxUint16:
			b = binary.BigEndian.AppendUint16(append(b, 0xc8), uint16(n))
		default:
			b = binary.BigEndian.AppendUint32(append(b, 0xc9), uint32(n))
		}
	}
	return append(append(b, byte(typ)), data...)
}

// Msg encodes a message body: a msgpack array of fields, the first being
// the message type.
func Msg(fields ...any) []byte { return Encode(fields) }

// Framed prefixes body with its 4-byte big-endian length (section 2).
func Framed(body []byte) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	return append(b, body...)
}
