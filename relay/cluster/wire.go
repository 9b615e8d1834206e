package cluster

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tickrelay/tickrelay/codec"
)

// What nodes write to each other (key-value records and NATS messages) is
// msgpack, written and read with the relay's own codec: its Reader checks
// every declared length against a limit and against the bytes present
// before using it, so a corrupt or hostile record costs at most its own
// size. Every record and message is an array whose first element is the
// format version; readers skip elements they do not know, so a later
// version may append fields.

// wireVersion is the format version of records and messages.
const wireVersion = 1

// Limits on what a node accepts from others.
const (
	maxWire     = 256 << 10 // a record or message
	maxStr      = 256       // names, modes, codes, regions, addresses, reasons, user ids
	maxText     = 4096      // chat and direct message text
	maxProps    = 64        // properties in a map
	maxPropKey  = 64
	maxPropVal  = 4096
	maxList     = 1024 // players, tickets, seats
	maxRegions  = 64
	maxTokenLen = 1024
)

// errMalformed wraps every decoding failure.
var errMalformed = errors.New("cluster: malformed record or message")

// dec reads fields in order, keeping the first error: callers check it once
// at the end.
type dec struct {
	r   codec.Reader
	err error
}

func newDec(b []byte) *dec {
	d := &dec{r: codec.NewReader(b)}
	if len(b) > maxWire {
		d.err = fmt.Errorf("%d bytes, over %d", len(b), maxWire)
	}
	return d
}

func (d *dec) fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

// array reads an array header of at least min elements and returns how
// many it has.
func (d *dec) array(min, limit int) int {
	if d.err != nil {
		return 0
	}
	n, err := d.r.ArrayLen(limit)
	d.fail(err)
	if err == nil && n < min {
		d.fail(fmt.Errorf("array of %d elements, want at least %d", n, min))
	}
	return n
}

// version reads a record's or message's header: an array of at least min
// elements whose first is a known version. It returns the elements left.
func (d *dec) version(min int) int {
	n := d.array(min+1, 64)
	if v := d.uint(math.MaxUint8); d.err == nil && v != wireVersion {
		d.fail(fmt.Errorf("format version %d", v))
	}
	return n - 1
}

// laterStr reads the str at position pos (1-based, after the version) of
// an array of n elements, a field a later format added: "" when the sender's
// array ends before it.
func (d *dec) laterStr(n, pos, limit int) string {
	if n < pos {
		return ""
	}
	return d.str(limit)
}

// rest skips the elements of an array that this version does not know
// (none when it has fewer than known).
func (d *dec) rest(n, known int) {
	for range n - known {
		if d.err != nil {
			return
		}
		d.fail(d.r.Skip())
	}
}

func (d *dec) uint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Uint(max)
	d.fail(err)
	return v
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Int()
	d.fail(err)
	return v
}

// count reads a non-negative int of at most limit.
func (d *dec) count(limit int) int { return int(d.uint(uint64(limit))) }

func (d *dec) bool() bool {
	if d.err != nil {
		return false
	}
	v, err := d.r.Bool()
	d.fail(err)
	return v
}

func (d *dec) float() float64 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.Float()
	d.fail(err)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		d.fail(errors.New("a number that is not finite"))
	}
	return v
}

func (d *dec) str(limit int) string {
	if d.err != nil {
		return ""
	}
	v, err := d.r.Str(limit)
	d.fail(err)
	return v
}

// time reads Unix nanoseconds; 0 is the zero time.
func (d *dec) time() time.Time {
	ns := d.int()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (d *dec) done(what string) error {
	if d.err == nil && d.r.Len() != 0 {
		d.err = fmt.Errorf("%d bytes after the value", d.r.Len())
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s: %v", errMalformed, what, d.err)
	}
	return nil
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return codec.AppendInt(b, 0)
	}
	return codec.AppendInt(b, t.UnixNano())
}

// appendProps writes a property map in key order, so that equal maps have
// equal bytes (the publisher compares bytes to find what changed). A value
// that is not a msgpack value is written as nil.
func appendProps(b []byte, props map[string][]byte) []byte {
	b = codec.AppendMapLen(b, len(props))
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = codec.AppendStr(b, k)
		b = codec.AppendRawOrNil(b, props[k])
	}
	return b
}

func (d *dec) props() map[string][]byte {
	if d.err != nil {
		return nil
	}
	if d.r.IsNil() {
		return nil
	}
	n, err := d.r.MapLen(maxProps)
	if d.fail(err); err != nil || n == 0 {
		return nil
	}
	m := make(map[string][]byte, n)
	for range n {
		k := d.str(maxPropKey)
		if d.err != nil {
			return nil
		}
		v, err := d.r.Raw(maxPropVal)
		if d.fail(err); err != nil {
			return nil
		}
		m[k] = slices.Clone(v)
	}
	return m
}

// appendStrMap writes a map of strings (the matchmaker's props, whose
// values are opaque bytes) in key order.
func appendStrMap(b []byte, m map[string]string) []byte {
	b = codec.AppendMapLen(b, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = codec.AppendStr(b, k)
		b = codec.AppendStr(b, m[k])
	}
	return b
}

func (d *dec) strMap() map[string]string {
	if d.err != nil || d.r.IsNil() {
		return nil
	}
	n, err := d.r.MapLen(maxProps)
	if d.fail(err); err != nil || n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str(maxPropKey)
		m[k] = d.str(maxPropVal)
	}
	if d.err != nil {
		return nil
	}
	return m
}

func appendStrs(b []byte, ss []string) []byte {
	b = codec.AppendArrayLen(b, len(ss))
	for _, s := range ss {
		b = codec.AppendStr(b, s)
	}
	return b
}

func (d *dec) strs(limit, strLimit int) []string {
	n := d.array(0, limit)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.str(strLimit))
	}
	return out
}

func appendU64s(b []byte, vs []uint64) []byte {
	b = codec.AppendArrayLen(b, len(vs))
	for _, v := range vs {
		b = codec.AppendUint(b, v)
	}
	return b
}

func (d *dec) u64s(limit int) []uint64 {
	n := d.array(0, limit)
	if n == 0 {
		return nil
	}
	out := make([]uint64, 0, n)
	for range n {
		out = append(out, d.uint(math.MaxUint64>>1))
	}
	return out
}
