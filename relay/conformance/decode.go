package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Kind is the type of a decoded msgpack value.
type Kind uint8

// Kinds of values. Int holds negative integers, Uint non-negative ones,
// whatever their width on the wire.
const (
	KindNil Kind = iota
	KindBool
	KindInt
	KindUint
	KindFloat
	KindStr
	KindBin
	KindArray
	KindMap
	KindExt
)

var kindNames = [...]string{"nil", "bool", "int", "uint", "float", "str", "bin", "array", "map", "ext"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// Node is one decoded msgpack value. Raw is its exact encoding, so opaque
// values can be compared byte for byte with what a client sent.
type Node struct {
	Kind    Kind
	Bool    bool
	Int     int64   // KindInt
	Uint    uint64  // KindUint
	Float   float64 // KindFloat
	Bytes   []byte  // KindStr, KindBin, KindExt (the data)
	ExtType int8
	Items   []Node // KindArray elements; KindMap keys and values alternating
	Raw     []byte
}

// Len is the element count of an array or the entry count of a map.
func (n Node) Len() int {
	if n.Kind == KindMap {
		return len(n.Items) / 2
	}
	return len(n.Items)
}

func (n Node) String() string {
	switch n.Kind {
	case KindNil:
		return "nil"
	case KindBool:
		return fmt.Sprint(n.Bool)
	case KindInt:
		return fmt.Sprint(n.Int)
	case KindUint:
		return fmt.Sprint(n.Uint)
	case KindFloat:
		return fmt.Sprint(n.Float)
	case KindStr:
		return fmt.Sprintf("%q", n.Bytes)
	}
	return fmt.Sprintf("%v(% x)", n.Kind, n.Raw)
}

// Decoding errors.
var (
	ErrTruncated = errors.New("msgpack: a declared length runs past the bytes present")
	ErrTooDeep   = errors.New("msgpack: nested too deeply")
	ErrInvalid   = errors.New("msgpack: invalid type byte")
	ErrTrailing  = errors.New("msgpack: bytes after the value")
)

// maxDepth bounds nesting while decoding server messages: a frame nests
// about six levels and carries opaque values of at most 16.
const maxDepth = 64

// Decode decodes exactly one msgpack value from b. It never allocates by a
// declared length: every element takes at least one byte, so a count is
// checked against the bytes left before anything is made for it.
func Decode(b []byte) (Node, error) {
	n, rest, err := decodeValue(b, 0)
	if err != nil {
		return Node{}, err
	}
	if len(rest) != 0 {
		return Node{}, fmt.Errorf("%w: %d", ErrTrailing, len(rest))
	}
	return n, nil
}

func decodeValue(b []byte, depth int) (Node, []byte, error) {
	if depth > maxDepth {
		return Node{}, nil, ErrTooDeep
	}
	if len(b) == 0 {
		return Node{}, nil, ErrTruncated
	}
	start := b
	n, rest, err := decodeBody(b, depth)
	if err != nil {
		return Node{}, nil, err
	}
	n.Raw = start[:len(start)-len(rest)]
	return n, rest, nil
}

// need returns b's first n bytes and the rest, or ErrTruncated.
func need(b []byte, n uint64) ([]byte, []byte, error) {
	if n > uint64(len(b)) {
		return nil, nil, ErrTruncated
	}
	return b[:n], b[n:], nil
}

// lenAt reads a big-endian length of size bytes (1, 2 or 4) from b.
func lenAt(b []byte, size int) (uint64, []byte, error) {
	p, rest, err := need(b, uint64(size))
	if err != nil {
		return 0, nil, err
	}
	switch size {
	case 1:
		return uint64(p[0]), rest, nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), rest, nil
	}
	return uint64(binary.BigEndian.Uint32(p)), rest, nil
}

func decodeBody(b []byte, depth int) (Node, []byte, error) {
	t, b := b[0], b[1:]
	switch {
	case t <= 0x7f:
		return Node{Kind: KindUint, Uint: uint64(t)}, b, nil
	case t >= 0xe0:
		return Node{Kind: KindInt, Int: int64(int8(t))}, b, nil
	case t&0xf0 == 0x80:
		return decodeItems(KindMap, uint64(t&0x0f), b, depth)
	case t&0xf0 == 0x90:
		return decodeItems(KindArray, uint64(t&0x0f), b, depth)
	case t&0xe0 == 0xa0:
		return decodeBytes(KindStr, uint64(t&0x1f), b)
	}
	switch t {
	case 0xc0:
		return Node{Kind: KindNil}, b, nil
	case 0xc2, 0xc3:
		return Node{Kind: KindBool, Bool: t == 0xc3}, b, nil
	case 0xc4, 0xc5, 0xc6, 0xd9, 0xda, 0xdb:
		kind, size := KindBin, 1<<(t-0xc4)
		if t >= 0xd9 {
			kind, size = KindStr, 1<<(t-0xd9)
		}
		n, rest, err := lenAt(b, size)
		if err != nil {
			return Node{}, nil, err
		}
		return decodeBytes(kind, n, rest)
	case 0xc7, 0xc8, 0xc9:
		n, rest, err := lenAt(b, 1<<(t-0xc7))
		if err != nil {
			return Node{}, nil, err
		}
		return decodeExt(n, rest)
	case 0xca:
		p, rest, err := need(b, 4)
		if err != nil {
			return Node{}, nil, err
		}
		return Node{Kind: KindFloat, Float: float64(math.Float32frombits(binary.BigEndian.Uint32(p)))}, rest, nil
	case 0xcb:
		p, rest, err := need(b, 8)
		if err != nil {
			return Node{}, nil, err
		}
		return Node{Kind: KindFloat, Float: math.Float64frombits(binary.BigEndian.Uint64(p))}, rest, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		p, rest, err := need(b, 1<<(t-0xcc))
		if err != nil {
			return Node{}, nil, err
		}
		var v uint64
		for _, c := range p {
			v = v<<8 | uint64(c)
		}
		return Node{Kind: KindUint, Uint: v}, rest, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (t - 0xd0)
		p, rest, err := need(b, uint64(size))
		if err != nil {
			return Node{}, nil, err
		}
		var u uint64
		for _, c := range p {
			u = u<<8 | uint64(c)
		}
		v := int64(u<<(64-8*size)) >> (64 - 8*size) // sign-extend
		if v >= 0 {
			return Node{Kind: KindUint, Uint: uint64(v)}, rest, nil
		}
		return Node{Kind: KindInt, Int: v}, rest, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return decodeExt(1<<(t-0xd4), b)
	case 0xdc, 0xdd, 0xde, 0xdf:
		kind, size := KindArray, 2
		if t == 0xdd || t == 0xdf {
			size = 4
		}
		if t >= 0xde {
			kind = KindMap
		}
		n, rest, err := lenAt(b, size)
		if err != nil {
			return Node{}, nil, err
		}
		return decodeItems(kind, n, rest, depth)
	}
	return Node{}, nil, fmt.Errorf("%w: %#x", ErrInvalid, t)
}

func decodeBytes(kind Kind, n uint64, b []byte) (Node, []byte, error) {
	p, rest, err := need(b, n)
	if err != nil {
		return Node{}, nil, err
	}
	return Node{Kind: kind, Bytes: p}, rest, nil
}

func decodeExt(n uint64, b []byte) (Node, []byte, error) {
	if len(b) == 0 {
		return Node{}, nil, ErrTruncated
	}
	typ := int8(b[0])
	p, rest, err := need(b[1:], n)
	if err != nil {
		return Node{}, nil, err
	}
	return Node{Kind: KindExt, ExtType: typ, Bytes: p}, rest, nil
}

// decodeItems decodes n elements (n entries of a map: 2n values).
func decodeItems(kind Kind, n uint64, b []byte, depth int) (Node, []byte, error) {
	values := n
	if kind == KindMap {
		values = 2 * n
	}
	if values > uint64(len(b)) { // each value takes at least one byte
		return Node{}, nil, ErrTruncated
	}
	items := make([]Node, 0, values)
	for i := uint64(0); i < values; i++ {
		v, rest, err := decodeValue(b, depth+1)
		if err != nil {
			return Node{}, nil, err
		}
		items = append(items, v)
		b = rest
	}
	return Node{Kind: kind, Items: items}, b, nil
}

// Minimal reports the first integer in n (outside the subtrees skip
// excludes) whose encoding is not its smallest one (section 3), or "".
func Minimal(n Node, skip func(path string) bool) string {
	return minimalAt(n, "", skip)
}

func minimalAt(n Node, path string, skip func(string) bool) string {
	if skip != nil && skip(path) {
		return ""
	}
	switch n.Kind {
	case KindUint:
		if want := AppendUint(nil, n.Uint); len(want) != len(n.Raw) {
			return fmt.Sprintf("%s: %d encoded as % x", path, n.Uint, n.Raw)
		}
	case KindInt:
		if want := AppendInt(nil, n.Int); len(want) != len(n.Raw) {
			return fmt.Sprintf("%s: %d encoded as % x", path, n.Int, n.Raw)
		}
	case KindArray, KindMap:
		for i, it := range n.Items {
			if s := minimalAt(it, fmt.Sprintf("%s/%d", path, i), skip); s != "" {
				return s
			}
		}
	}
	return ""
}
