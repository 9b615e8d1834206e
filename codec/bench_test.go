package codec

import (
	"fmt"
	"testing"
)

// Benchmarks of the messages every connected client sends or receives many
// times a second: a state and a ping from each client, events, and the
// per-tick frame. Run with -benchmem: the hot paths should not allocate.

func benchState(size int) []byte {
	v := make([]byte, size-2)
	for i := range v {
		v[i] = byte(i)
	}
	return AppendBin(nil, v) // a bin8 of exactly size encoded bytes
}

func BenchmarkEncodeState64(b *testing.B) {
	m := &ClientMsg{Type: TState, Value: benchState(64)}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendClient(buf[:0], m)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeState64(b *testing.B) {
	body := AppendClient(nil, &ClientMsg{Type: TState, Value: benchState(64)})[FrameHeaderSize:]
	lim := DefaultLimits
	var m ClientMsg
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeClient(body, &lim, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEvent() *ClientMsg {
	return &ClientMsg{Type: TEvent, Target: TargetList, EventCode: 7, Value: benchState(32), Targets: []uint32{2, 3, 5}}
}

func BenchmarkEncodeEvent(b *testing.B) {
	m := benchEvent()
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendClient(buf[:0], m)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeEvent(b *testing.B) {
	body := AppendClient(nil, benchEvent())[FrameHeaderSize:]
	lim := DefaultLimits
	var m ClientMsg
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeClient(body, &lim, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEventEntry is the server's side of an event: one entry
// appended to each recipient's next frame.
func BenchmarkEncodeEventEntry(b *testing.B) {
	payload := benchState(32)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEventEntry(buf[:0], 123456, 42, 7, payload)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodePing(b *testing.B) {
	m := &ClientMsg{Type: TPing, ClientTime: 1700000000123456789}
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendClient(buf[:0], m)
	}
}

func BenchmarkDecodePing(b *testing.B) {
	body := AppendClient(nil, &ClientMsg{Type: TPing, ClientTime: 1700000000123456789})[FrameHeaderSize:]
	lim := DefaultLimits
	var m ClientMsg
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeClient(body, &lim, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePong(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPong(buf[:0], 1700000000123456789, 1700000000123, 123456, 15000)
	}
}

func BenchmarkDecodePong(b *testing.B) {
	body := AppendPong(nil, 1700000000123456789, 1700000000123, 123456, 15000)[FrameHeaderSize:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeServer(body); err != nil {
			b.Fatal(err)
		}
	}
}

// benchFrame is a steady-state frame for a room of n players whose states
// of stateSize bytes all changed since the last tick: the common frame.
func benchFrame(n, stateSize int) []byte {
	state := benchState(stateSize)
	b, start := AppendFrameStart(nil, 123456, 1700000000123)
	b = AppendArrayLen(b, RoomFields)
	b = AppendUint(b, 7)     // room id
	b = AppendBool(b, false) // full
	b = AppendUint(b, 1)     // master
	b = AppendBool(b, false) // locked
	b = AppendNil(b)         // props unchanged
	b = AppendArrayLen(b, 0) // leaves
	b = AppendArrayLen(b, 0) // joins
	b = AppendArrayLen(b, 0) // player props
	b = AppendArrayLen(b, n) // states
	for i := 1; i <= n; i++ {
		b = AppendArrayLen(b, 2)
		b = AppendUint(b, uint64(i))
		b = append(b, state...)
	}
	for i := 9; i < RoomFields; i++ {
		b = AppendArrayLen(b, 0) // fields added since (presence): empty
	}
	b = AppendArrayLen(b, 0) // events
	b = AppendArrayLen(b, 0) // chat
	EndFrame(b, start)
	return b
}

// BenchmarkDecodeFrame is a client decoding a whole frame with the
// allocating decoder (relay/client does this for every frame).
func BenchmarkDecodeFrame(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("players=%d/state=64", n), func(b *testing.B) {
			body := benchFrame(n, 64)[FrameHeaderSize:]
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := DecodeServer(body)
				if err != nil || len(m.Frame.Room.States) != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWalkFrameStates reads the same frame's states in place with a
// Reader, as a cheap client (cmd/relay-bench's bots) does: the lower bound
// for decoding a frame.
func BenchmarkWalkFrameStates(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("players=%d/state=64", n), func(b *testing.B) {
			body := benchFrame(n, 64)[FrameHeaderSize:]
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if got := walkStates(body); got != n {
					b.Fatalf("walked %d states", got)
				}
			}
		})
	}
}

func walkStates(body []byte) int {
	r := NewReader(body)
	if _, err := r.ArrayLen(maxFields); err != nil {
		return -1
	}
	for range 3 { // type, tick, server time
		if _, err := r.Int(); err != nil {
			return -1
		}
	}
	if _, err := r.ArrayLen(maxFields); err != nil {
		return -1
	}
	for range 8 { // room id .. player props
		if err := r.Skip(); err != nil {
			return -1
		}
	}
	n, err := r.ArrayLen(1 << 16)
	if err != nil {
		return -1
	}
	for i := 0; i < n; i++ {
		if _, err := r.ArrayLen(2); err != nil {
			return -1
		}
		if _, err := r.Uint(1<<32 - 1); err != nil {
			return -1
		}
		if _, err := r.Raw(1 << 20); err != nil {
			return -1
		}
	}
	return n
}
