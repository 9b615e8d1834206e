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
		{[]byte{0xdd, 0x10, 0x00, 0x00, 0x00}, CodeTooLarge}, // 2^28 elements > the 64-field limit
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
