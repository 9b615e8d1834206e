package conformance

import (
	"bytes"
	"testing"
)

// The stack's decoders read bytes from the network: they must refuse
// anything without panicking or allocating by a declared length.
// go test ./relay/conformance -run XXX -fuzz FuzzParseServer -fuzztime 60s

func FuzzParseServer(f *testing.F) {
	f.Add(Msg(TWelcome, 1, 1, "00112233445566778899aabbccddeeff", 30, 1700000000000, 42, false, 0))
	f.Add(Msg(TFrame, 9, 1000, []any{7, true, 1, false, Map{{"k", 1}}, []any{3}, []any{[]any{4, "d", Map{}}},
		[]any{[]any{4, Map{}}}, []any{[]any{4, []any{1}}}, []any{[]any{4, false}}},
		[]any{[]any{8, 4, 5, "hit"}}, []any{[]any{4, 0, 1000, "gg"}}))
	f.Add(Msg(TRoomList, 1, []any{[]any{7, "dm", 3, 4, false, Map{}}}))
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseServer(b)
		if err == nil && m.Type == 0 {
			t.Fatal("parsed a message without a type")
		}
		if n, err := Decode(b); err == nil && !bytes.Equal(n.Raw, b) {
			t.Fatal("Raw is not the input")
		}
	})
}

func FuzzKCPInput(f *testing.F) {
	f.Add((&Segment{Conv: 7, Cmd: CmdPush, Data: Framed(Msg(TOK, 1))}).AppendTo(nil))
	f.Add((&Segment{Conv: 7, Cmd: CmdPush, Frg: 2, SN: 1, Data: []byte{0, 0, 0}}).AppendTo(nil))
	f.Add((&Segment{Conv: 7, Cmd: CmdAck, SN: 0, UNA: 1}).AppendTo(nil))
	f.Add((&Segment{Conv: 7, Cmd: CmdWask}).AppendTo(nil))
	f.Fuzz(func(t *testing.T, d []byte) {
		k := NewKCP(7, KCPConfig{RecvWindow: 8}, func([]byte) {})
		_ = k.Send([]byte("hello"))
		k.Flush(1)
		_ = k.Input(d, 2)
		k.Flush(3)
		for m := k.Recv(); m != nil; m = k.Recv() {
			if len(m) > 256*k.MSS() {
				t.Fatalf("a %d-byte message from one datagram", len(m))
			}
		}
	})
}
