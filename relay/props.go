package relay

import (
	"bytes"
	"fmt"

	"github.com/tickrelay/tickrelay/codec"
)

// propSet is a room's or player's properties: string keys to encoded
// msgpack values. It keeps its encoded map so frames copy it instead of
// re-encoding; changes are rare next to frames.
type propSet struct {
	keys    []string
	values  [][]byte
	encoded []byte // the whole set as a msgpack map
}

var emptyMap = []byte{0x80}

// merge applies a set request: each value replaces its key, and an encoded
// nil deletes it. It fails, changing nothing, when the result would hold
// more than maxKeys keys.
func (ps *propSet) merge(props []codec.Prop, maxKeys int) error {
	keys := append([]string(nil), ps.keys...)
	values := append([][]byte(nil), ps.values...)
	for _, p := range props {
		i := indexOf(keys, p.Key)
		del := len(p.Value) == 1 && p.Value[0] == 0xc0
		switch {
		case del && i >= 0:
			keys = append(keys[:i], keys[i+1:]...)
			values = append(values[:i], values[i+1:]...)
		case del:
		case i >= 0:
			values[i] = bytes.Clone(p.Value)
		default:
			keys = append(keys, string(p.Key))
			values = append(values, bytes.Clone(p.Value))
		}
	}
	if len(keys) > maxKeys {
		return fmt.Errorf("%d properties, limit %d", len(keys), maxKeys)
	}
	ps.keys, ps.values = keys, values
	ps.encode()
	return nil
}

func (ps *propSet) encode() {
	b := codec.AppendMapLen(ps.encoded[:0], len(ps.keys))
	for i, k := range ps.keys {
		b = codec.AppendStr(b, k)
		b = append(b, ps.values[i]...)
	}
	ps.encoded = b
}

// bytes returns the encoded map ({} when empty).
func (ps *propSet) bytes() []byte {
	if len(ps.encoded) == 0 {
		return emptyMap
	}
	return ps.encoded
}

// matches reports whether every filter key is present with the same
// encoded value.
func (ps *propSet) matches(filter []codec.Prop) bool {
	for _, f := range filter {
		i := indexOf(ps.keys, f.Key)
		if i < 0 || !bytes.Equal(ps.values[i], f.Value) {
			return false
		}
	}
	return true
}

func indexOf(keys []string, k []byte) int {
	for i, s := range keys {
		if s == string(k) {
			return i
		}
	}
	return -1
}
