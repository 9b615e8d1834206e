package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// KCP does not keep message boundaries for messages larger than one
// segment, so every message travels as a frame: a 4-byte big-endian body
// length followed by the msgpack body.

// FrameHeaderSize is the size of the length prefix.
const FrameHeaderSize = 4

// ErrFrameTooLarge is returned for a frame whose declared length is over
// the reader's limit.
var ErrFrameTooLarge = errors.New("frame too large")

// ErrEmptyFrame is returned for a frame with a zero-length body.
var ErrEmptyFrame = errors.New("empty frame")

// BeginFrame appends a placeholder length prefix; EndFrame fills it in.
func BeginFrame(b []byte) (out []byte, start int) {
	return append(b, 0, 0, 0, 0), len(b)
}

// EndFrame writes the length of the body that follows the prefix at start.
func EndFrame(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-FrameHeaderSize))
}

// FrameReader splits a byte stream into frame bodies. Its buffer grows to
// the largest frame seen, never beyond MaxSize plus one read.
type FrameReader struct {
	r       io.Reader
	max     int
	buf     []byte
	start   int // first unconsumed byte
	end     int // end of valid bytes
	minRead int
}

// NewFrameReader reads frames of at most max body bytes from r.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: r, max: max, buf: make([]byte, 4096), minRead: 1500}
}

// Next returns the next frame body. The slice is valid until the next call.
// A declared length over the limit returns ErrFrameTooLarge before any of
// the body is read or allocated.
func (f *FrameReader) Next() ([]byte, error) {
	if err := f.fill(FrameHeaderSize); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(f.buf[f.start:]))
	if n > f.max {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrFrameTooLarge, n, f.max)
	}
	if n == 0 {
		return nil, ErrEmptyFrame
	}
	if err := f.fill(FrameHeaderSize + n); err != nil {
		return nil, err
	}
	body := f.buf[f.start+FrameHeaderSize : f.start+FrameHeaderSize+n]
	f.start += FrameHeaderSize + n
	return body, nil
}

// Buffered reports the bytes read from the stream but not yet returned.
func (f *FrameReader) Buffered() int { return f.end - f.start }

// fill ensures at least n unconsumed bytes are buffered.
func (f *FrameReader) fill(n int) error {
	for f.end-f.start < n {
		if len(f.buf)-f.end < f.minRead || len(f.buf)-f.start < n {
			// Compact first; grow only when the frame itself needs the room.
			copy(f.buf, f.buf[f.start:f.end])
			f.end -= f.start
			f.start = 0
			if need := n + f.minRead; len(f.buf) < need {
				grown := make([]byte, need)
				copy(grown, f.buf[:f.end])
				f.buf = grown
			}
		}
		m, err := f.r.Read(f.buf[f.end:])
		f.end += m
		if err != nil {
			if f.end-f.start >= n {
				return nil
			}
			if err == io.EOF && f.end > f.start {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
