package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"testing"
)

// hostile are bodies that make a generic msgpack decoder allocate by a
// declared length (4 GiB, 2 GiB, 53 MiB seen), plus other lies.
var hostile = [][]byte{
	{0xdd, 0x10, 0x00, 0x00, 0x00},
	{0xc6, 0x7f, 0xff, 0xff, 0xff},
	{0xdf, 0x7f, 0xff, 0xff, 0xff},
	{0x92, 0x14, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},             // state whose string claims 2 GiB
	{0x92, 0x14, 0xdd, 0x7f, 0xff, 0xff, 0xff},                  // state whose array claims 2^31 elements
	{0x92, 0x14, 0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01},            // ext32 claiming 2 GiB
	{0x94, 0x01, 0x01, 0xa1, 'a', 0xdf, 0x7f, 0xff, 0xff, 0xff}, // hello with a huge props map
	{0x92, 0x14, 0xc1},
	{0x91, 0x63}, // unknown type 99
	{0x90},
	{0xa3, 'a', 'b', 'c'},
}

func seedCorpus(f *testing.F) {
	for _, v := range messageVectors() {
		f.Add(v.frame[FrameHeaderSize:])
	}
	for _, h := range hostile {
		f.Add(h)
	}
}

func TestHostileBodiesFailWithoutAllocating(t *testing.T) {
	lim := DefaultLimits
	var m ClientMsg
	for _, h := range hostile {
		if err := DecodeClient(h, &lim, &m); err == nil {
			t.Errorf("%x: decoded without error", h)
		}
		// Error values allocate a little; a buffer of the declared size
		// would be megabytes at least.
		if n := bytesAllocated(func() { _ = DecodeClient(h, &lim, &m); _, _ = DecodeServer(h) }); n > 4096 {
			t.Errorf("%x: %d bytes allocated per decode", h, n)
		}
		if _, err := DecodeServer(h); err == nil {
			t.Errorf("%x: DecodeServer accepted it", h)
		}
	}
}

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / 100
}

func TestDecodeErrorCodes(t *testing.T) {
	lim := DefaultLimits
	var m ClientMsg
	cases := []struct {
		body []byte
		want Code
	}{
		{[]byte{0x91, 0x63}, CodeUnknownMessage},
		{[]byte{0xdd, 0x10, 0x00, 0x00, 0x00}, CodeMalformed},                                // 2^28 elements declared, none present
		{append([]byte{0xdc, 0x00, 0x41}, bytes.Repeat([]byte{0x01}, 65)...), CodeMalformed}, // 65 fields: no message has that shape
		{[]byte{0x92, 0x14}, CodeMalformed},
		{append([]byte{0x92, 0x14, 0xc5, 0x08, 0x00}, make([]byte, 2048)...), CodeTooLarge}, // 2 KiB state > 1 KiB
	}
	for _, c := range cases {
		err := DecodeClient(c.body, &lim, &m)
		if got := ErrorCode(err); got != c.want {
			t.Errorf("%x: code %v (%v), want %v", c.body, got, err, c.want)
		}
	}
}

// TestDecodeRefusals checks the rule of PROTOCOL.md section 4 ("Refusals"):
// a field present but out of range or over its limit is a *FieldError
// carrying the message's rid; what cannot be parsed is not.
func TestDecodeRefusals(t *testing.T) {
	lim := DefaultLimits
	keys := func(n int) []Prop {
		ps := make([]Prop, n)
		for i := range ps {
			ps[i] = Prop{Key: []byte{'k', byte('A' + i/26), byte('a' + i%26)}, Value: []byte{0x01}}
		}
		return ps
	}
	body := func(m ClientMsg) []byte { return AppendClient(nil, &m)[FrameHeaderSize:] }
	long := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	// [10, rid=7, mode="dm", max_players, public=true, nil] with a raw max_players.
	createWith := func(maxPlayers ...byte) []byte {
		b := []byte{0x96, 0x0a, 0x07, 0xa2, 'd', 'm'}
		b = append(b, maxPlayers...)
		return append(b, 0xc3, 0xc0)
	}
	cases := []struct {
		name  string
		body  []byte
		field bool // a *FieldError: answered, the session stays
		code  Code
		rid   uint32
	}{
		{"33 keys in set_player_props", body(ClientMsg{Type: TSetPlayerProps, RID: 5, Props: keys(33)}), true, CodeLimit, 5},
		{"32 keys in set_room_props", body(ClientMsg{Type: TSetRoomProps, RID: 5, Props: keys(32)}), false, 0, 5},
		{"33 keys in create_room", body(ClientMsg{Type: TCreateRoom, RID: 6, Mode: []byte("dm"), Props: keys(33)}), true, CodeLimit, 6},
		{"33 keys in hello", body(ClientMsg{Type: THello, Version: 1, Props: keys(33)}), true, CodeLimit, 0},
		{"33-byte name in hello", body(ClientMsg{Type: THello, Version: 1, Name: long(33)}), true, CodeTooLarge, 0},
		{"33-byte mode", body(ClientMsg{Type: TJoinOrCreate, RID: 9, Mode: long(33)}), true, CodeTooLarge, 9},
		{"33-byte prop key", body(ClientMsg{Type: TSetPlayerProps, RID: 3, Props: []Prop{{Key: long(33), Value: []byte{1}}}}), true, CodeTooLarge, 3},
		{"257-byte prop value", body(ClientMsg{Type: TSetPlayerProps, RID: 3, Props: []Prop{{Key: []byte("k"), Value: AppendStr(nil, string(long(255)))}}}), true, CodeTooLarge, 3},
		{"257-byte chat", body(ClientMsg{Type: TChat, Text: long(257)}), true, CodeTooLarge, 0},
		{"256-byte chat", body(ClientMsg{Type: TChat, Text: long(256)}), false, 0, 0},
		{"17-byte join code", body(ClientMsg{Type: TJoinCode, RID: 4, Code: long(17)}), true, CodeTooLarge, 4},
		{"1025-byte state", body(ClientMsg{Type: TState, Value: AppendBin(nil, long(1022))}), true, CodeTooLarge, 0},
		{"state nested 17 deep", append([]byte{0x92, 0x14}, append(bytes.Repeat([]byte{0x91}, 17), 0x01)...), true, CodeTooLarge, 0},
		{"state nested 16 deep", append([]byte{0x92, 0x14}, append(bytes.Repeat([]byte{0x91}, 16), 0x01)...), false, 0, 0},
		{"1025-byte event payload", body(ClientMsg{Type: TEvent, Value: AppendBin(nil, long(1022))}), true, CodeTooLarge, 0},
		{"65 event ids", body(ClientMsg{Type: TEvent, Target: TargetList, Targets: make([]uint32, 65)}), true, CodeLimit, 0},
		{"event target 4", []byte{0x95, 0x15, 0x04, 0x01, 0xc0, 0xc0}, true, CodeBadRequest, 0},
		{"max_players -1", createWith(0xff), true, CodeBadRequest, 7},
		{"max_players 65", createWith(0x41), true, CodeBadRequest, 7},
		{"max_players 64", createWith(0x40), false, 0, 7},
		{"max_players a string", createWith(0xa1, '4'), false, CodeMalformed, 7},
		{"list limit -1", []byte{0x95, 0x0d, 0x02, 0xa0, 0xc0, 0xff}, true, CodeBadRequest, 2},
		{"kick id 2^32", []byte{0x93, 0x13, 0x02, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, true, CodeBadRequest, 2},
		{"chat to -1", []byte{0x93, 0x16, 0xff, 0xa1, 'x'}, true, CodeBadRequest, 0},
		{"rid -1", []byte{0x92, 0x0f, 0xff}, false, CodeMalformed, 0},
		{"rid 2^32", []byte{0x92, 0x0f, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, false, CodeMalformed, 0},
		{"rid 0 is valid", []byte{0x92, 0x0f, 0x00}, false, 0, 0},
		{"string length past the body", []byte{0x93, 0x16, 0x00, 0xdb, 0x7f, 0xff, 0xff, 0xff}, false, CodeMalformed, 0},
		{"map count past the body", []byte{0x93, 0x11, 0x01, 0xdf, 0x7f, 0xff, 0xff, 0xff}, false, CodeMalformed, 1},
		{"9 regions", body(ClientMsg{Type: TQueueJoin, RID: 8, Mode: []byte("dm"), Regions: make([][]byte, 9)}), true, CodeLimit, 8},
		{"33-byte region", body(ClientMsg{Type: TQueueJoin, RID: 8, Mode: []byte("dm"), Regions: [][]byte{long(33)}}), true, CodeTooLarge, 8},
		{"NaN skill", append([]byte{0x96, 0x32, 0x08, 0xa2, 'd', 'm', 0xc0, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, 0xc0), true, CodeBadRequest, 8},
		{"skill a string", []byte{0x96, 0x32, 0x08, 0xa2, 'd', 'm', 0xc0, 0xa1, '1', 0xc0}, false, CodeMalformed, 8},
		{"65 backfill seats", body(ClientMsg{Type: TBackfill, RID: 9, Seats: make([]uint32, 65)}), true, CodeLimit, 9},
		{"backfill team 256", []byte{0x93, 0x34, 0x09, 0x91, 0xcd, 0x01, 0x00}, true, CodeBadRequest, 9},
		{"33-byte channel", body(ClientMsg{Type: TChannelSay, Channel: long(33), Text: []byte("x")}), true, CodeTooLarge, 0},
		{"queue_join", body(ClientMsg{Type: TQueueJoin, RID: 8, Mode: []byte("dm"), Regions: [][]byte{[]byte("eu")}, Skill: 1.5}), false, 0, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m ClientMsg
			err := DecodeClient(c.body, &lim, &m)
			var fe *FieldError
			isField := errors.As(err, &fe)
			switch {
			case c.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case c.code == 0:
				if m.RID != c.rid {
					t.Errorf("rid %d, want %d", m.RID, c.rid)
				}
				return
			case err == nil:
				t.Fatalf("accepted, want %v", c.code)
			case isField != c.field:
				t.Fatalf("field error %v, want %v: %v", isField, c.field, err)
			case ErrorCode(err) != c.code:
				t.Fatalf("code %v, want %v: %v", ErrorCode(err), c.code, err)
			}
			if isField && fe.RID != c.rid {
				t.Errorf("rid %d, want %d", fe.RID, c.rid)
			}
		})
	}
}

func TestDecodeClientZeroAllocs(t *testing.T) {
	lim := DefaultLimits
	var m ClientMsg
	bodies := [][]byte{}
	for _, v := range messageVectors() {
		if v.dir == "c2s" {
			bodies = append(bodies, v.frame[FrameHeaderSize:])
		}
	}
	for _, b := range bodies { // warm the reused slices
		_ = DecodeClient(b, &lim, &m)
	}
	if a := testing.AllocsPerRun(100, func() {
		for _, b := range bodies {
			if err := DecodeClient(b, &lim, &m); err != nil {
				t.Fatal(err)
			}
		}
	}); a != 0 {
		t.Errorf("DecodeClient allocates %v times per pass", a)
	}
}

func TestForwardCompatibleExtraFields(t *testing.T) {
	// A later protocol version may append fields; this one skips them.
	body, _ := hex.DecodeString("93" + "14" + "05" + "a3787878") // state with one extra string field
	var m ClientMsg
	lim := DefaultLimits
	if err := DecodeClient(body, &lim, &m); err != nil || m.Type != TState || !bytes.Equal(m.Value, []byte{5}) {
		t.Fatalf("got %+v, %v", m, err)
	}
}

func FuzzDecodeClient(f *testing.F) {
	seedCorpus(f)
	lim := DefaultLimits
	f.Fuzz(func(t *testing.T, body []byte) {
		var m ClientMsg
		if err := DecodeClient(body, &lim, &m); err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same message.
		again := AppendClient(nil, &m)
		var m2 ClientMsg
		if err := DecodeClient(again[FrameHeaderSize:], &lim, &m2); err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", again, err)
		}
		if m.Type != m2.Type || m.RID != m2.RID || !bytes.Equal(m.Value, m2.Value) && len(m.Value) > 0 {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
	})
}

func FuzzDecodeServer(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = DecodeServer(body) // must not panic or allocate by declared lengths
	})
}

func FuzzReaderRaw(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := NewReader(body)
		raw, err := r.Raw(1 << 16)
		if err != nil {
			return
		}
		if len(raw) != r.Offset() || !bytes.Equal(raw, body[:len(raw)]) {
			t.Fatalf("Raw returned %x for %x", raw, body)
		}
		// The value Raw accepted must be one complete value on its own.
		r2 := NewReader(raw)
		if err := r2.Skip(); err != nil || r2.Len() != 0 {
			t.Fatalf("Raw value %x does not skip cleanly: %v", raw, err)
		}
	})
}

// chunkReader returns at most n bytes per Read, like KCP splitting a stream.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1, 9}, uint8(1))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, uint8(7))
	f.Add([]byte{0, 0, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		fr := NewFrameReader(&chunkReader{b: stream, n: int(chunk)%64 + 1}, 1024)
		total := 0
		for {
			body, err := fr.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrEmptyFrame) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(body) > 1024 {
				t.Fatalf("body of %d bytes over the limit", len(body))
			}
			total += FrameHeaderSize + len(body)
		}
		if total > len(stream) {
			t.Fatalf("read %d bytes from a %d-byte stream", total, len(stream))
		}
		if len(fr.buf) > 1024+FrameHeaderSize+fr.minRead+4096 {
			t.Fatalf("buffer grew to %d", len(fr.buf))
		}
	})
}

func TestFrameReaderSplitsStream(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i := 1; i < 3000; i += 397 {
		body := bytes.Repeat([]byte{byte(i)}, i)
		b, start := BeginFrame(stream)
		stream = append(b, body...)
		EndFrame(stream, start)
		want = append(want, body)
	}
	for _, chunk := range []int{1, 7, 1376, 1 << 20} {
		fr := NewFrameReader(&chunkReader{b: stream, n: chunk}, 4096)
		for i, w := range want {
			got, err := fr.Next()
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("chunk %d frame %d: %v", chunk, i, err)
			}
		}
		if _, err := fr.Next(); err != io.EOF {
			t.Fatalf("chunk %d: end gave %v", chunk, err)
		}
	}
	fr := NewFrameReader(bytes.NewReader([]byte{0, 1, 0, 0}), 4096)
	if _, err := fr.Next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("65536-byte frame with a 4096 limit: %v", err)
	}
}

func TestPeekType(t *testing.T) {
	for _, c := range []struct {
		body []byte
		want Type
	}{
		{AppendClient(nil, &ClientMsg{Type: TPeerPacket, Value: []byte{1}})[FrameHeaderSize:], TPeerPacket},
		{AppendClient(nil, &ClientMsg{Type: TPing})[FrameHeaderSize:], TPing},
		{[]byte{0xdc, 0x00, 0x05, 0x3c}, TPeerPacket},
		{[]byte{0xc6, 0x7f, 0xff, 0xff, 0xff}, 0},
		{[]byte{0x92, 0xcc, 0xff}, 0},
		{[]byte{0x91}, 0},
		{nil, 0},
	} {
		if got := PeekType(c.body); got != c.want {
			t.Errorf("% x: %d, want %d", c.body, got, c.want)
		}
	}
}
