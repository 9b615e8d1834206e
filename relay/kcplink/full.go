package kcplink

import (
	"encoding/binary"
	"net/netip"

	"github.com/tickrelay/tickrelay/codec"
)

// refusalReasons are the close reasons a refusal may carry, longest first:
// the answer must not be larger than the hello it answers.
var refusalReasons = map[codec.Code][]string{
	codec.CodeServerFull: {"the server is full", "full", ""},
	codec.CodeBanned:     {"this address is banned", "banned", ""},
}

// serverFullDatagram is refusalDatagram for server_full.
func serverFullDatagram(dst []byte, b []byte) []byte {
	return refusalDatagram(dst, b, codec.CodeServerFull)
}

// refusalDatagram answers hello datagram b, from a client the relay
// refuses (no room for it, or a banned address), with what its KCP reads as
// the first message of the conversation: one push segment (the hello's
// conv, sn 0, una 1, so the hello counts as received and is not resent)
// carrying the frame [4, code, reason]. It is never larger than b, so a
// spoofed hello cannot make the relay an amplifier, and costs no session.
// It returns nil if b is too short even for the empty reason (it cannot
// be: a hello the filter accepts is at least 33 bytes, the answer without
// reason 32).
func refusalDatagram(dst []byte, b []byte, code codec.Code) []byte {
	for _, reason := range refusalReasons[code] {
		frame := codec.AppendClose(nil, code, reason)
		if kcpHeaderSize+len(frame) > len(b) {
			continue
		}
		dst = binary.LittleEndian.AppendUint32(dst, binary.LittleEndian.Uint32(b))     // conv
		dst = append(dst, kcpCmdPush, 0)                                               // cmd, frg
		dst = binary.LittleEndian.AppendUint16(dst, 0)                                 // wnd: nothing more to take
		dst = binary.LittleEndian.AppendUint32(dst, binary.LittleEndian.Uint32(b[8:])) // ts: the hello's
		dst = binary.LittleEndian.AppendUint32(dst, 0)                                 // sn
		dst = binary.LittleEndian.AppendUint32(dst, 1)                                 // una: the hello is received
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(frame)))
		return append(dst, frame...)
	}
	return nil
}

// replyRefusal sends the answer to hello datagram b from raw, through the
// output batch (the reader flushes it after its batch).
func (t *Transport) replyRefusal(b []byte, raw netip.AddrPort, code codec.Code) {
	var buf [64]byte
	if d := refusalDatagram(buf[:0], b, code); d != nil {
		t.out.add(raw, d, nil)
	}
}
