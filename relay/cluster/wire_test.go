package cluster

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/codec"
	"github.com/tickrelay/tickrelay/relay/match"
)

var (
	t0       = time.Unix(1_700_000_000, 123_000_000)
	msgProps = map[string]string{"map": "\xa4dust", "bin\xff": "\xc4\x02\x00\xff"} // opaque bytes survive
)

func sampleRoom() Room {
	return Room{
		Node: 2, ID: 0x02000007, Code: "K7XQ2M", Mode: "ctf",
		Props:   map[string][]byte{"map": codec.AppendStr(nil, "dust"), "size": codec.AppendInt(nil, 300), "\xffkey": {0xc3}},
		Players: 3, MaxPlayers: 8, Public: true, Locked: true,
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	r := sampleRoom()
	got, err := decodeRoom(appendRoom(nil, &r))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("room: got %+v, %v; want %+v", got, err, r)
	}
	nr := nodeRecord{ID: 3, Incarnation: 1 << 62, PublicKCP: "203.0.113.5:7777", PublicWS: "wss://r3.example.com/", Players: 1500, NumRoom: 200}
	if got, err := decodeNodeRecord(nr.append(nil)); err != nil || got != nr {
		t.Fatalf("node record: got %+v, %v", got, err)
	}
	lr := leaderRecord{Node: 9, Term: 12345}
	if got, err := decodeLeader(lr.append(nil)); err != nil || got != lr {
		t.Fatalf("leader: got %+v, %v", got, err)
	}
	b := Ban{ID: "1-abc", PlayerID: 0x01000002, UserID: "u42", Address: "2001:db8::/48", Until: t0.Add(time.Hour), Reason: "cheating", Created: t0, Node: 1}
	gb, err := decodeBan(appendBan(nil, &b))
	if err != nil || !gb.Until.Equal(b.Until) || !gb.Created.Equal(b.Created) {
		t.Fatalf("ban: got %+v, %v", gb, err)
	}
	gb.Until, gb.Created = b.Until, b.Created
	if gb != b {
		t.Fatalf("ban: got %+v, want %+v", gb, b)
	}
}

func sampleMessages() []Message {
	ticket := match.Ticket{
		ID: 1<<56 | 7, Mode: "2v2", Players: []match.Player{{ID: 0x01000003, Skill: 1500.5}, {ID: 0x01000004, Skill: -3}},
		Regions: []string{"eu", "us"}, Props: msgProps, Enqueued: t0,
	}
	return []Message{
		&DirectMessage{From: 0x01000001, FromName: "ana", To: 0x03000009, TimeMs: 1_700_000_000_000, Text: "hi \xff"},
		&ChannelLine{Channel: "mode:ctf", From: 0x02000001, FromName: "bo", TimeMs: 17, Text: "gl hf"},
		&TicketAdd{Origin: 1, Ticket: ticket},
		&TicketCancel{Origin: 1, ID: 99},
		&BackfillRequest{Origin: 1, Backfill: match.Backfill{ID: 0x01000005, Mode: "2v2", Region: "eu", Skill: 1400, Props: msgProps, Seats: []int{1, 1, 0}, Created: t0, Deadline: t0.Add(time.Minute)}},
		&BackfillCancel{Origin: 1, ID: 0x01000005},
		&MatchAssign{Leader: 1, Term: 77, Match: match.Match{Mode: "2v2", Region: "eu", Props: msgProps, Teams: 2, Skill: 1450, Tickets: []uint64{3, 4}, Players: []match.MatchedPlayer{{ID: 0x01000003, Ticket: 3, Team: 1}, {ID: 0x02000008, Ticket: 4}}}},
		&FillAssign{Leader: 1, Term: 78, Fill: match.Fill{Backfill: 0x02000005, Tickets: []uint64{5}, Players: []match.MatchedPlayer{{ID: 0x03000001, Ticket: 5, Team: 1}}, Open: 2}},
		&MatchResult{From: 1, Ticket: 3, Outcome: 0, Room: 0x02000010, Code: "ABCDEF", Region: "eu", WaitedMs: 4200, Players: []MatchedSeat{{Player: 0x01000003, Team: 1, Seat: "s1.x.y"}}},
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := encodeMessage(nil, 1, m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		got, from, err := decodeMessage(b)
		if err != nil || from != 1 {
			t.Fatalf("%T: from %d, %v", m, from, err)
		}
		normalizeTimes(got)
		normalizeTimes(m)
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: got\n%+v\nwant\n%+v", m, got, m)
		}
	}
	if _, err := encodeMessage(nil, 1, &LeaderChanged{}); err == nil {
		t.Error("a LeaderChanged encoded: it must not cross nodes")
	}
}

// normalizeTimes drops the location and monotonic reading so that decoded
// times compare equal with reflect.DeepEqual.
func normalizeTimes(m Message) {
	fix := func(t *time.Time) {
		if !t.IsZero() {
			*t = time.Unix(0, t.UnixNano()).UTC()
		}
	}
	switch m := m.(type) {
	case *TicketAdd:
		fix(&m.Ticket.Enqueued)
	case *BackfillRequest:
		fix(&m.Backfill.Created)
		fix(&m.Backfill.Deadline)
	}
}

func TestSeatWireRoundTrip(t *testing.T) {
	req := SeatRequest{Room: 0, Create: &RoomSpec{Mode: "dm", MaxPlayers: 4, Public: true, Props: map[string][]byte{"map": {0x02}}}, Player: 0x02000003, Name: "ana", UserID: "sub-1"}
	got, from, err := decodeSeatRequest(appendSeatRequest(nil, 2, &req))
	if err != nil || from != 2 || !reflect.DeepEqual(got, req) {
		t.Fatalf("request: got %+v from %d, %v", got, from, err)
	}
	party := SeatRequest{Party: "BCDEFGHJ", Player: 0x02000004, Name: "bo"}
	if got, _, err := decodeSeatRequest(appendSeatRequest(nil, 2, &party)); err != nil || !reflect.DeepEqual(got, party) {
		t.Fatalf("party request: got %+v, %v", got, err)
	}
	// A request of the version before parties (no Party field) still reads.
	old := appendHeader(nil, 5, kindSeatRequest, 2)
	old = codec.AppendUint(old, 7)
	old = codec.AppendNil(old)
	old = codec.AppendUint(old, 9)
	old = codec.AppendStr(old, "cy")
	old = codec.AppendStr(old, "")
	if got, _, err := decodeSeatRequest(old); err != nil || got.Room != 7 || got.Name != "cy" || got.Party != "" {
		t.Fatalf("request without a party field: got %+v, %v", got, err)
	}
	s := Seat{Token: "s1.a.b", Node: 1, Room: 0x01000002, Code: "QWERTY", PublicKCP: "1.2.3.4:7777", PublicWS: "ws://1.2.3.4:7777/", Expires: time.UnixMilli(t0.UnixMilli())}
	gs, err := decodeSeatReply(appendSeatReply(nil, &s, nil))
	if err != nil || !gs.Expires.Equal(s.Expires) {
		t.Fatalf("reply: %+v, %v", gs, err)
	}
	gs.Expires = s.Expires
	if gs != s {
		t.Fatalf("reply: got %+v, want %+v", gs, s)
	}
	_, err = decodeSeatReply(appendSeatReply(nil, nil, &SeatRefused{Code: "room_full", Message: "full"}))
	var ref *SeatRefused
	if !errors.As(err, &ref) || ref.Code != "room_full" {
		t.Fatalf("refusal: %v", err)
	}
}

// A later version may append fields: readers skip them.
func TestRecordsSkipUnknownFields(t *testing.T) {
	r := sampleRoom()
	b := appendRoom(nil, &r)
	b[0]++                                   // fixarray 10 -> 11
	b = codec.AppendStr(b, "a future field") // the extra element
	if got, err := decodeRoom(b); err != nil || got.Code != r.Code {
		t.Fatalf("got %+v, %v", got, err)
	}
	m := &DirectMessage{From: 0x01000001, To: 0x02000001, Text: "x"}
	mb, _ := encodeMessage(nil, 1, m)
	mb[0]++ // fixarray 8 -> 9
	mb = codec.AppendArrayLen(mb, 0)
	if got, _, err := decodeMessage(mb); err != nil || got.(*DirectMessage).Text != "x" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// Hostile bytes: lengths declared far beyond what is present, unknown
// versions and kinds, every truncation of a valid message.
func TestDecodersRefuseHostileInput(t *testing.T) {
	hostile := [][]byte{
		nil,
		{0xdd, 0xff, 0xff, 0xff, 0xff}, // an array of 4 billion
		{0x94, 0x01, 0x01, 0x01, 0xdb, 0x7f, 0xff, 0xff, 0xff},                                     // a 2 GiB string
		{0x9a, 0x01, 0x0c, 0x01, 0x01, 0x00, 0x03, 0xa0, 0xa0, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff}, // match result of 4 billion players
		{0x93, 0x02, 0x01, 0x01},       // version 2
		{0x93, 0x01, 0xcc, 0xee, 0x01}, // kind 238
		make([]byte, maxWire+1),
	}
	for _, b := range hostile {
		if _, _, err := decodeMessage(b); err == nil {
			t.Errorf("decodeMessage(% x) accepted", b[:min(len(b), 12)])
		}
		if _, err := decodeRoom(b); err == nil {
			t.Errorf("decodeRoom(% x) accepted", b[:min(len(b), 12)])
		}
		if _, _, err := decodeSeatRequest(b); err == nil {
			t.Errorf("decodeSeatRequest(% x) accepted", b[:min(len(b), 12)])
		}
	}
	for _, m := range sampleMessages() {
		b, _ := encodeMessage(nil, 1, m)
		for i := range len(b) {
			if _, _, err := decodeMessage(b[:i]); err == nil {
				t.Errorf("%T cut to %d of %d bytes accepted", m, i, len(b))
			}
		}
	}
	r := sampleRoom()
	rb := appendRoom(nil, &r)
	for i := range len(rb) {
		if _, err := decodeRoom(rb[:i]); err == nil {
			t.Errorf("room cut to %d of %d bytes accepted", i, len(rb))
		}
	}
}

func TestDecodeRefusesNonFiniteSkill(t *testing.T) {
	m := &TicketAdd{Ticket: match.Ticket{ID: 1, Players: []match.Player{{ID: 1, Skill: 0}}}}
	b, _ := encodeMessage(nil, 1, m)
	// The skill is the float64 0 (cb 00..00): make it NaN.
	for i := 0; i+9 <= len(b); i++ {
		if b[i] == 0xcb {
			copy(b[i+1:], []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
			break
		}
	}
	if _, _, err := decodeMessage(b); err == nil {
		t.Fatal("a NaN skill was accepted")
	}
}

// Fuzz every decoder of bytes that come from other nodes: none may panic,
// and what decodes must encode back to what decodes the same.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := encodeMessage(nil, 1, m)
		f.Add(b)
	}
	f.Add(appendSeatRequest(nil, 2, &SeatRequest{Room: 5, Name: "x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, from, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, err := encodeMessage(nil, from, m)
		if err != nil {
			t.Fatalf("decoded %T does not encode: %v", m, err)
		}
		m2, _, err := decodeMessage(again)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", m, err)
		}
		normalizeTimes(m)
		normalizeTimes(m2)
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed %T:\n%+v\n%+v", m, m, m2)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	r := sampleRoom()
	nr := nodeRecord{ID: 1, PublicKCP: "1.2.3.4:1"}
	lr := leaderRecord{Node: 1, Term: 2}
	b := Ban{ID: "x", UserID: "u"}
	f.Add(appendRoom(nil, &r))
	f.Add(nr.append(nil))
	f.Add(lr.append(nil))
	f.Add(appendBan(nil, &b))
	f.Add(appendSeatReply(nil, &Seat{Token: "t"}, nil))
	f.Add(appendSeatRequest(nil, 2, &SeatRequest{Create: &RoomSpec{Mode: "m"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeRoom(b); err == nil {
			if r2, err := decodeRoom(appendRoom(nil, &r)); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("room round trip: %+v %+v %v", r, r2, err)
			}
		}
		_, _ = decodeNodeRecord(b)
		_, _ = decodeLeader(b)
		_, _ = decodeBan(b)
		_, _ = decodeSeatReply(b)
		_, _, _ = decodeSeatRequest(b)
	})
}
