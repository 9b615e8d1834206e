package relay

import (
	"encoding/hex"
	"fmt"

	"github.com/tickrelay/tickrelay/codec"
)

// displayValue turns an encoded msgpack value (one the relay already
// checked: well formed, bounded) into something encoding/json can show an
// operator: maps, arrays, numbers, strings; bytes and extension types
// (Godot's Vector2 and friends) as hex.
func displayValue(b []byte) any {
	r := codec.NewReader(b)
	v, ok := readDisplay(&r, codec.MaxDepth)
	if !ok {
		return map[string]string{"msgpack": hex.EncodeToString(b)}
	}
	return v
}

// readDisplay reads one value; each attempt at a type starts again from
// the value's first byte (a Reader is a position in a slice: copying it
// saves the position).
func readDisplay(r *codec.Reader, depth int) (any, bool) {
	if depth < 0 {
		return nil, false
	}
	at := *r
	if r.IsNil() {
		return nil, true
	}
	try := func(read func() (any, error)) (any, bool) {
		*r = at
		v, err := read()
		return v, err == nil
	}
	if v, ok := try(func() (any, error) { return r.Bool() }); ok {
		return v, true
	}
	if v, ok := try(func() (any, error) { return r.Int() }); ok {
		return v, true
	}
	if v, ok := try(func() (any, error) { return r.Float() }); ok {
		return v, true
	}
	if v, ok := try(func() (any, error) { return r.Str(1 << 20) }); ok {
		return v, true
	}
	if v, ok := try(func() (any, error) {
		b, err := r.Bin(1 << 20)
		return map[string]string{"bin": hex.EncodeToString(b)}, err
	}); ok {
		return v, true
	}
	*r = at
	if n, err := r.ArrayLen(1 << 20); err == nil {
		out := make([]any, 0, n)
		for range n {
			v, ok := readDisplay(r, depth-1)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	}
	*r = at
	if n, err := r.MapLen(1 << 20); err == nil {
		out := make(map[string]any, n)
		for range n {
			k, ok := readDisplay(r, depth-1)
			if !ok {
				return nil, false
			}
			v, ok := readDisplay(r, depth-1)
			if !ok {
				return nil, false
			}
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	*r = at
	raw, err := r.Raw(1 << 20) // an extension type
	if err != nil {
		return nil, false
	}
	return map[string]string{"ext": hex.EncodeToString(raw)}, true
}
