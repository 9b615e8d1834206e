package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Decoding errors. Every error a Reader returns wraps one of these, so a
// server can turn it into a close reason without string matching.
var (
	ErrTruncated = errors.New("msgpack: truncated")
	ErrType      = errors.New("msgpack: unexpected type")
	ErrTooLarge  = errors.New("msgpack: declared length over limit")
	ErrTooDeep   = errors.New("msgpack: nesting too deep")
	ErrRange     = errors.New("msgpack: integer out of range")
)

// MaxDepth bounds the nesting of opaque values a Reader will walk.
const MaxDepth = 16

// Reader decodes msgpack from a byte slice that may come from the network.
// It never allocates by a declared length: each length is checked against a
// caller-given limit and against the bytes actually left before it is used,
// and strings or byte strings are returned as sub-slices of the input.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader over b. The Reader does not copy b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Reset points the Reader at b.
func (r *Reader) Reset(b []byte) { r.b, r.off = b, 0 }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Offset is the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

func (r *Reader) need(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, ErrTruncated
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *Reader) byte1() (byte, error) {
	if r.off >= len(r.b) {
		return 0, ErrTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *Reader) peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, ErrTruncated
	}
	return r.b[r.off], nil
}

// readLen reads an n-byte big-endian length.
func (r *Reader) readLen(n int) (int, error) {
	p, err := r.need(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return int(p[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(p)), nil
	default:
		return int(binary.BigEndian.Uint32(p)), nil
	}
}

// checkCount validates a declared element count: each element takes at
// least minBytes, so a count the remaining bytes cannot hold is a lie.
// A count the bytes cannot hold is truncated input whatever the limit, so
// that is checked first: ErrTooLarge then means a count that is really
// there and over the caller's limit.
func (r *Reader) checkCount(n, limit, minBytes int) error {
	if n > r.Len()/minBytes {
		return ErrTruncated
	}
	if n > limit {
		return fmt.Errorf("%w: %d > %d", ErrTooLarge, n, limit)
	}
	return nil
}

// IsNil reports whether the next value is nil, consuming it if so.
func (r *Reader) IsNil() bool {
	if c, err := r.peek(); err == nil && c == 0xc0 {
		r.off++
		return true
	}
	return false
}

// ArrayLen reads an array header; the count must be <= limit.
func (r *Reader) ArrayLen(limit int) (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n int
	switch {
	case c&0xf0 == 0x90:
		n = int(c & 0x0f)
	case c == 0xdc:
		n, err = r.readLen(2)
	case c == 0xdd:
		n, err = r.readLen(4)
	default:
		return 0, fmt.Errorf("%w: 0x%02x where an array was expected", ErrType, c)
	}
	if err != nil {
		return 0, err
	}
	if err := r.checkCount(n, limit, 1); err != nil {
		return 0, err // never hand a caller a count it could allocate by
	}
	return n, nil
}

// MapLen reads a map header; the pair count must be <= limit.
func (r *Reader) MapLen(limit int) (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n int
	switch {
	case c&0xf0 == 0x80:
		n = int(c & 0x0f)
	case c == 0xde:
		n, err = r.readLen(2)
	case c == 0xdf:
		n, err = r.readLen(4)
	default:
		return 0, fmt.Errorf("%w: 0x%02x where a map was expected", ErrType, c)
	}
	if err != nil {
		return 0, err
	}
	if err := r.checkCount(n, limit, 2); err != nil {
		return 0, err
	}
	return n, nil
}

// Int reads any msgpack integer that fits in an int64.
func (r *Reader) Int() (int64, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	}
	var p []byte
	switch c {
	case 0xcc, 0xd0:
		p, err = r.need(1)
	case 0xcd, 0xd1:
		p, err = r.need(2)
	case 0xce, 0xd2:
		p, err = r.need(4)
	case 0xcf, 0xd3:
		p, err = r.need(8)
	default:
		return 0, fmt.Errorf("%w: 0x%02x where an integer was expected", ErrType, c)
	}
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xcc:
		return int64(p[0]), nil
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p)), nil
	case 0xce:
		return int64(binary.BigEndian.Uint32(p)), nil
	case 0xcf:
		v := binary.BigEndian.Uint64(p)
		if v > math.MaxInt64 {
			return 0, ErrRange
		}
		return int64(v), nil
	case 0xd0:
		return int64(int8(p[0])), nil
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), nil
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), nil
	default:
		return int64(binary.BigEndian.Uint64(p)), nil
	}
}

// Uint reads an integer that must lie in [0, max].
func (r *Reader) Uint(max uint64) (uint64, error) {
	v, err := r.Int()
	if err != nil {
		return 0, err
	}
	if v < 0 || uint64(v) > max {
		return 0, fmt.Errorf("%w: %d not in [0, %d]", ErrRange, v, max)
	}
	return uint64(v), nil
}

// Bool reads a boolean.
func (r *Reader) Bool() (bool, error) {
	c, err := r.byte1()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, fmt.Errorf("%w: 0x%02x where a boolean was expected", ErrType, c)
}

// Float reads a float32 or float64 (or an integer) as float64.
func (r *Reader) Float() (float64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xca:
		r.off++
		p, err := r.need(4)
		if err != nil {
			return 0, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), nil
	case 0xcb:
		r.off++
		p, err := r.need(8)
		if err != nil {
			return 0, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	}
	v, err := r.Int()
	return float64(v), err
}

// StrBytes reads a string of at most limit bytes and returns it as a
// sub-slice of the input (valid only as long as the input is).
func (r *Reader) StrBytes(limit int) ([]byte, error) {
	c, err := r.byte1()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == 0xd9:
		n, err = r.readLen(1)
	case c == 0xda:
		n, err = r.readLen(2)
	case c == 0xdb:
		n, err = r.readLen(4)
	default:
		return nil, fmt.Errorf("%w: 0x%02x where a string was expected", ErrType, c)
	}
	if err != nil {
		return nil, err
	}
	if n > r.Len() {
		return nil, ErrTruncated
	}
	if n > limit {
		return nil, fmt.Errorf("%w: string of %d bytes > %d", ErrTooLarge, n, limit)
	}
	return r.need(n)
}

// Str reads a string of at most limit bytes, copying it.
func (r *Reader) Str(limit int) (string, error) {
	p, err := r.StrBytes(limit)
	return string(p), err
}

// Bin reads a byte string of at most limit bytes as a sub-slice of the input.
func (r *Reader) Bin(limit int) ([]byte, error) {
	c, err := r.byte1()
	if err != nil {
		return nil, err
	}
	var n int
	switch c {
	case 0xc4:
		n, err = r.readLen(1)
	case 0xc5:
		n, err = r.readLen(2)
	case 0xc6:
		n, err = r.readLen(4)
	default:
		return nil, fmt.Errorf("%w: 0x%02x where bin was expected", ErrType, c)
	}
	if err != nil {
		return nil, err
	}
	if n > r.Len() {
		return nil, ErrTruncated
	}
	if n > limit {
		return nil, fmt.Errorf("%w: bin of %d bytes > %d", ErrTooLarge, n, limit)
	}
	return r.need(n)
}

// Raw reads one complete msgpack value of any type, checking that it is well
// formed, at most limit bytes long and nested at most MaxDepth deep, and
// returns its encoded bytes as a sub-slice of the input. It is how opaque
// values (states, properties, event payloads) cross the relay untouched.
func (r *Reader) Raw(limit int) ([]byte, error) {
	start := r.off
	if err := r.skip(MaxDepth); err != nil {
		return nil, err
	}
	if r.off-start > limit {
		return nil, fmt.Errorf("%w: value of %d bytes > %d", ErrTooLarge, r.off-start, limit)
	}
	return r.b[start:r.off], nil
}

// Skip consumes one complete value.
func (r *Reader) Skip() error { return r.skip(MaxDepth) }

func (r *Reader) skip(depth int) error {
	c, err := r.byte1()
	if err != nil {
		return err
	}
	var n, elems int
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return nil
	case c&0xe0 == 0xa0:
		_, err = r.need(int(c & 0x1f))
		return err
	case c&0xf0 == 0x90:
		elems = int(c & 0x0f)
	case c&0xf0 == 0x80:
		elems = 2 * int(c&0x0f)
	default:
		switch c {
		case 0xcc, 0xd0:
			_, err = r.need(1)
			return err
		case 0xcd, 0xd1:
			_, err = r.need(2)
			return err
		case 0xce, 0xd2, 0xca:
			_, err = r.need(4)
			return err
		case 0xcf, 0xd3, 0xcb:
			_, err = r.need(8)
			return err
		case 0xd9, 0xc4:
			n, err = r.readLen(1)
		case 0xda, 0xc5:
			n, err = r.readLen(2)
		case 0xdb, 0xc6:
			n, err = r.readLen(4)
		case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
			_, err = r.need(1 + 1<<(c-0xd4))
			return err
		case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
			n, err = r.readLen(1 << (c - 0xc7))
			if err == nil {
				n++ // the type byte
			}
		case 0xdc:
			elems, err = r.readLen(2)
		case 0xdd:
			elems, err = r.readLen(4)
		case 0xde:
			elems, err = r.readLen(2)
			elems *= 2
		case 0xdf:
			elems, err = r.readLen(4)
			elems *= 2
		default: // 0xc1 is never used
			return fmt.Errorf("%w: reserved byte 0xc1", ErrType)
		}
		if err != nil {
			return err
		}
		if elems == 0 {
			_, err = r.need(n)
			return err
		}
	}
	if depth == 0 {
		return ErrTooDeep
	}
	if elems > r.Len() {
		return ErrTruncated
	}
	for i := 0; i < elems; i++ {
		if err := r.skip(depth - 1); err != nil {
			return err
		}
	}
	return nil
}
