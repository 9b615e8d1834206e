package conformance

import (
	"bufio"
	"encoding/hex"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// docExample is one hex example of PROTOCOL.md: consecutive lines of hex
// bytes inside a code block. "..." in the document elides bytes.
type docExample struct {
	section string
	hex     string // the example's tokens joined, elisions kept as "..."
}

var hexToken = regexp.MustCompile(`^(?:[0-9a-f]{2})+(?:\.\.\.(?:[0-9a-f]{2})+)?$`)

// readDocExamples returns every hex example in PROTOCOL.md, in order.
func readDocExamples(t *testing.T) []docExample {
	t.Helper()
	f, err := os.Open("../../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	section, inCode, cur := "", false, ""
	flush := func() {
		if cur != "" {
			out = append(out, docExample{section: section, hex: cur})
			cur = ""
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			flush()
			inCode = !inCode
			continue
		}
		if !inCode {
			if strings.HasPrefix(line, "#") {
				section = strings.TrimSpace(strings.TrimLeft(line, "#"))
			}
			continue
		}
		toks := strings.Fields(line)
		isHex := len(toks) > 0
		for _, tok := range toks {
			isHex = isHex && hexToken.MatchString(tok)
		}
		if !isHex {
			flush()
			continue
		}
		cur += strings.Join(toks, "")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// matches reports whether frame b is what the document's hex shows, an
// elision standing for any bytes.
func (e docExample) matches(b []byte) bool {
	parts := strings.Split(e.hex, "...")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	re := regexp.MustCompile("^" + strings.Join(parts, "(?:[0-9a-f]{2})*") + "$")
	return re.MatchString(hex.EncodeToString(b))
}

const docToken = "00112233445566778899aabbccddeeff"

// goldenExamples lists, in document order, the message each example of
// PROTOCOL.md shows, built with the suite's own encoder. A new example in
// the document needs a line here.
var goldenExamples = []struct {
	section string
	body    []byte
	server  bool
}{
	{"2. Frames", Msg(TState, []any{10, -5}), false},
	{"4.1 hello", Msg(THello, 1, "ana", Map{{"team", "red"}}), false},
	{"4.1 hello", Msg(THello, 1, "ana", nil, "", docToken, 1234), false},
	{"4.2 create_room", Msg(TCreateRoom, 1, "dm", 4, true, Map{{"map", 2}}), false},
	{"4.10 state", Msg(TState, []any{10, -5}), false},
	{"4.11 event", Msg(TEvent, 2, 6, nil, []any{2, 4}), false},
	{"4.15 queue_join (matchmaking)", Msg(TQueueJoin, 3, "2v2", []any{"eu"}, 1500.0, Map{{"map", "dust"}}), false},
	{"4.17 backfill (master only)", Msg(TBackfill, 4, []any{1}), false},
	{"4.18 party_create, party_join, party_leave", Msg(TPartyJoin, 5, "K7XQ2M"), false},
	{"4.19 channel_join, channel_leave, channel_members, channel_say (lobby chat)", Msg(TChannelSay, "global", "gl hf"), false},
	{"4.20 peer_packet (Godot's multiplayer API)", Msg(TPeerPacket, -3, 1, 1, []byte{0xde, 0xad}), false},
	{"4.21 join_seat (clusters)", Msg(TJoinSeat, 3, "s1.x.y"), false},
	{"5.1 welcome", Msg(TWelcome, 1, 1, docToken, 30, 1700000000000, 42, false, 0), true},
	{"5.2 error", Msg(TError, 2, CodeRoomFull, "the room is full"), true},
	{"5.6 frame", Msg(TFrame, 9, 1000, nil, []any{}, []any{[]any{1, 0, 1000, "gl hf", "global", "ana"}}), true},
	{"5.6 frame", Msg(TFrame, 9, 1000, nil, []any{}, []any{}, []any{[]any{2, 0, 0, []byte{1, 2}}}), true},
	{"5.6 frame", Msg(TFrame, 1234, 1700000000000,
		[]any{7, false, 1, false, nil, []any{3}, []any{[]any{4, "dora", Map{}}}, []any{},
			[]any{[]any{2, []any{10, -5}}}, []any{[]any{5, false}}},
		[]any{[]any{1233, 2, 5, "hit"}},
		[]any{[]any{1, 0, 1700000000000, "gg"}}), true},
	{"5.7 announce", Msg(TAnnounce, "restart at 18:00", 1700000000000), true},
	{"5.9 match", Msg(TMatch, 0, 7, 1, "eu", 4200), true},
	{"5.10 party", Msg(TParty, 3, "K7XQ2M", 1, []any{[]any{1, "ana"}, []any{2, "bo"}}), true},
	{"5.11 channel", Msg(TChannel, 6, "global", 2, []any{[]any{1, "ana"}, []any{2, "bo"}},
		[]any{[]any{2, "bo", 1700000000000, "hi"}}), true},
	{"5.12 redirect", Msg(TRedirect, 3, 2, "10.0.0.2:7777", "wss://n2.example.com/", "s1.x.y"), true},
}

// The document's hex examples are exactly what this suite's encoder makes
// of the annotated values, and the server's examples decode to them.
func TestSection2_3_4_5_GoldenExamples(t *testing.T) {
	t.Parallel()
	doc := readDocExamples(t)
	if len(doc) != len(goldenExamples) {
		t.Errorf("PROTOCOL.md has %d hex examples, the suite knows %d", len(doc), len(goldenExamples))
	}
	for i := range min(len(doc), len(goldenExamples)) {
		d, g := doc[i], goldenExamples[i]
		if d.section != g.section {
			t.Errorf("example %d is in section %q, the suite expects %q", i, d.section, g.section)
			continue
		}
		frame := Framed(g.body)
		if !d.matches(frame) {
			t.Errorf("section %s: the document shows\n  %s\nthe suite encodes\n  %x", d.section, d.hex, frame)
			continue
		}
		if !g.server {
			continue
		}
		// Decode the document's bytes (an elided example: the bytes it
		// matched) and check the fields section 5 names.
		docBytes := frame
		if !strings.Contains(d.hex, "...") {
			docBytes, _ = hex.DecodeString(d.hex)
		}
		m, err := ParseServer(docBytes[4:])
		if err != nil {
			t.Errorf("section %s: %v", d.section, err)
			continue
		}
		checkGoldenServer(t, d.section, m)
	}
}

func checkGoldenServer(t *testing.T, section string, m *ServerMsg) {
	t.Helper()
	var got, want any
	switch m.Type {
	case TWelcome:
		got, want = m.Welcome, Welcome{Version: 1, PlayerID: 1, ResumeToken: docToken, TickRate: 30,
			ServerTimeMs: 1700000000000, Tick: 42}
	case TError:
		got, want = []any{m.RID, m.Code, m.Text}, []any{uint32(2), CodeRoomFull, "the room is full"}
	case TFrame:
		if m.Frame.Tick == 9 && len(m.Frame.Packets) > 0 { // the peer packet
			got, want = m.Frame, Frame{Tick: 9, ServerTimeMs: 1000,
				Packets: []PeerPacket{{From: 2, Mode: 0, Channel: 0, Data: []byte{1, 2}}}}
			break
		}
		if m.Frame.Tick == 9 { // the lobby chat line
			got, want = m.Frame, Frame{Tick: 9, ServerTimeMs: 1000,
				Chat: []Chat{{From: 1, ServerTimeMs: 1000, Text: "gl hf", Channel: "global", FromName: "ana"}}}
			break
		}
		got, want = m.Frame, Frame{Tick: 1234, ServerTimeMs: 1700000000000,
			Room: &FrameRoom{ID: 7, Master: 1, Leaves: []uint32{3}, Joins: []Join{{ID: 4, Name: "dora", Props: Props{}}},
				States:   []State{{ID: 2, Value: Encode([]any{10, -5})}},
				Presence: []Presence{{ID: 5, Connected: false}}},
			Events: []Event{{Tick: 1233, From: 2, Code: 5, Payload: Encode("hit")}},
			Chat:   []Chat{{From: 1, To: 0, ServerTimeMs: 1700000000000, Text: "gg"}}}
	case TAnnounce:
		got, want = []any{m.Text, m.ServerTimeMs}, []any{"restart at 18:00", uint64(1700000000000)}
	case TMatch:
		got, want = m.Match, Match{RoomID: 7, Team: 1, Region: "eu", WaitedMs: 4200}
	case TParty:
		got, want = m.Party, Party{ID: 3, Code: "K7XQ2M", Leader: 1, Members: []Member{{1, "ana"}, {2, "bo"}}}
	case TChannel:
		got, want = m.Channel, Channel{Name: "global", Count: 2, Members: []Member{{1, "ana"}, {2, "bo"}},
			History: []Chat{{From: 2, FromName: "bo", ServerTimeMs: 1700000000000, Text: "hi", Channel: "global"}}}
	case TRedirect:
		got, want = []any{m.RID, m.Redirect}, []any{uint32(3), Redirect{Node: 2, KCPAddr: "10.0.0.2:7777",
			WSURL: "wss://n2.example.com/", Token: "s1.x.y"}}
	default:
		t.Fatalf("section %s: no check for message %d", section, m.Type)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("section %s decodes to\n  %+v\nwant\n  %+v", section, got, want)
	}
}
