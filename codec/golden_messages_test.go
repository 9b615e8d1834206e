package codec

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type msgVector struct {
	name    string
	dir     string // c2s or s2c
	meaning string
	frame   []byte     // the whole frame: length prefix and body
	client  *ClientMsg // c2s: what it decodes to
	server  *ServerMsg // s2c: what it decodes to
}

func props(kv ...string) []Prop {
	var ps []Prop
	for i := 0; i < len(kv); i += 2 {
		v, _ := hex.DecodeString(kv[i+1])
		ps = append(ps, Prop{Key: []byte(kv[i]), Value: v})
	}
	return ps
}

func cvec(name, meaning string, m *ClientMsg) msgVector {
	return msgVector{name: name, dir: "c2s", meaning: meaning, frame: AppendClient(nil, m), client: m}
}

// frameVector builds a frame message by hand, the way the relay does.
func frameVector() []byte {
	b, start := AppendFrameStart(nil, 1234, 1700000000000)
	// room part: [room_id, full, master, locked, props, leaves, joins, player_props, states]
	b = AppendArrayLen(b, RoomFields)
	b = AppendUint(b, 7)
	b = AppendBool(b, false)
	b = AppendUint(b, 1)
	b = AppendBool(b, false)
	b = AppendNil(b)                        // room props unchanged
	b = AppendUint(AppendArrayLen(b, 1), 3) // player 3 left
	b = AppendArrayLen(b, 1)                // player 4 joined
	b = AppendArrayLen(b, 3)
	b = AppendUint(b, 4)
	b = AppendStr(b, "dora")
	b = AppendMapLen(b, 0)
	b = AppendArrayLen(b, 0) // no player props changed
	b = AppendArrayLen(b, 1) // player 2's state
	b = AppendArrayLen(b, 2)
	b = AppendUint(b, 2)
	b = AppendArrayLen(b, 2)
	b = AppendInt(b, 10)
	b = AppendInt(b, -5)
	b = AppendArrayLen(b, 1) // presence: player 5 lost its connection
	b = AppendArrayLen(b, 2)
	b = AppendUint(b, 5)
	b = AppendBool(b, false)
	// events
	b = AppendArrayLen(b, 1)
	b = AppendEventEntry(b, 1233, 2, 5, []byte{0xa3, 'h', 'i', 't'})
	// chat
	b = AppendArrayLen(b, 1)
	b = AppendChatEntry(b, 1, 0, 1700000000000, []byte("gg"))
	EndFrame(b, start)
	return b
}

func messageVectors() []msgVector {
	return []msgVector{
		cvec("hello", `[1, version=1, name="ana", props={"team": "red"}]`,
			&ClientMsg{Type: THello, Version: 1, Name: []byte("ana"), Props: props("team", "a3726564")}),
		cvec("hello_resume", `[1, version=1, name="ana", props=nil, auth="", resume="00112233445566778899aabbccddeeff", last_tick=1234]`,
			&ClientMsg{Type: THello, Version: 1, Name: []byte("ana"), Resume: []byte("00112233445566778899aabbccddeeff"), LastTick: 1234}),
		cvec("hello_auth", `[1, version=1, name="", props=nil, auth="eyJ...", resume="", last_tick=0]`,
			&ClientMsg{Type: THello, Version: 1, Auth: []byte("eyJhbGciOiJIUzI1NiJ9.e30.sig")}),
		cvec("create_room", `[10, rid=1, mode="dm", max_players=4, public=true, props={"map": 2}]`,
			&ClientMsg{Type: TCreateRoom, RID: 1, Mode: []byte("dm"), MaxPlayers: 4, Public: true, Props: props("map", "02")}),
		cvec("join_room", `[11, rid=2, room_id=7]`, &ClientMsg{Type: TJoinRoom, RID: 2, RoomID: 7}),
		cvec("join_code", `[12, rid=3, code="K7XQ2M"]`, &ClientMsg{Type: TJoinCode, RID: 3, Code: []byte("K7XQ2M")}),
		cvec("list_rooms", `[13, rid=4, mode="dm", filter={"map": 2}, limit=10]`,
			&ClientMsg{Type: TListRooms, RID: 4, Mode: []byte("dm"), Props: props("map", "02"), Limit: 10}),
		cvec("list_rooms_any", `[13, rid=5, mode="", filter=nil, limit=0]`, &ClientMsg{Type: TListRooms, RID: 5}),
		cvec("join_or_create", `[14, rid=6, mode="dm", props={"map": 2}, max_players=8]`,
			&ClientMsg{Type: TJoinOrCreate, RID: 6, Mode: []byte("dm"), Props: props("map", "02"), MaxPlayers: 8}),
		cvec("leave_room", `[15, rid=7]`, &ClientMsg{Type: TLeaveRoom, RID: 7}),
		cvec("set_room_props", `[16, rid=8, props={"round": 3, "old": nil}]`,
			&ClientMsg{Type: TSetRoomProps, RID: 8, Props: props("round", "03", "old", "c0")}),
		cvec("set_player_props", `[17, rid=9, props={"ready": true}]`,
			&ClientMsg{Type: TSetPlayerProps, RID: 9, Props: props("ready", "c3")}),
		cvec("set_locked", `[18, rid=10, locked=true]`, &ClientMsg{Type: TSetLocked, RID: 10, Locked: true}),
		cvec("kick", `[19, rid=11, player_id=4]`, &ClientMsg{Type: TKick, RID: 11, PlayerID: 4}),
		cvec("state", `[20, value=[10, -5]]`, &ClientMsg{Type: TState, Value: []byte{0x92, 0x0a, 0xfb}}),
		cvec("event_others", `[21, target=1 (others), code=5, payload="hit", ids=nil]`,
			&ClientMsg{Type: TEvent, Target: TargetOthers, EventCode: 5, Value: []byte{0xa3, 'h', 'i', 't'}}),
		cvec("event_list", `[21, target=2 (list), code=6, payload=nil, ids=[2, 4]]`,
			&ClientMsg{Type: TEvent, Target: TargetList, EventCode: 6, Value: []byte{0xc0}, Targets: []uint32{2, 4}}),
		cvec("chat_room", `[22, to=0 (room), text="gg"]`, &ClientMsg{Type: TChat, Text: []byte("gg")}),
		cvec("chat_direct", `[22, to=4, text="hi"]`, &ClientMsg{Type: TChat, To: 4, Text: []byte("hi")}),
		cvec("ping", `[23, client_time=123456]`, &ClientMsg{Type: TPing, ClientTime: 123456}),
		cvec("ping_acked", `[23, client_time=123456, acked_tick=1234]`, &ClientMsg{Type: TPing, ClientTime: 123456, AckedTick: 1234}),
		cvec("bye", `[24]`, &ClientMsg{Type: TBye}),

		{name: "welcome", dir: "s2c", meaning: `[2, version=1, player_id=1, resume_token="00112233445566778899aabbccddeeff", tick_rate=30, server_time_ms=1700000000000, tick=42, resumed=false, room_id=0]`,
			frame:  AppendWelcome(nil, 1, "00112233445566778899aabbccddeeff", 30, 1700000000000, 42, false, 0),
			server: &ServerMsg{Type: TWelcome, Version: 1, PlayerID: 1, ResumeToken: "00112233445566778899aabbccddeeff", TickRate: 30, ServerTimeMs: 1700000000000, Tick: 42}},
		{name: "welcome_resumed", dir: "s2c", meaning: `[2, version=1, player_id=5, resume_token="ffeeddccbbaa99887766554433221100", tick_rate=30, server_time_ms=1700000000000, tick=99, resumed=true, room_id=7]`,
			frame:  AppendWelcome(nil, 5, "ffeeddccbbaa99887766554433221100", 30, 1700000000000, 99, true, 7),
			server: &ServerMsg{Type: TWelcome, Version: 1, PlayerID: 5, ResumeToken: "ffeeddccbbaa99887766554433221100", TickRate: 30, ServerTimeMs: 1700000000000, Tick: 99, Resumed: true, RoomID: 7}},
		{name: "error", dir: "s2c", meaning: `[3, rid=2, code=4 (room_full), message="the room is full"]`,
			frame:  AppendError(nil, 2, CodeRoomFull, "the room is full"),
			server: &ServerMsg{Type: TError, RID: 2, Code: CodeRoomFull, Message: "the room is full"}},
		{name: "close", dir: "s2c", meaning: `[4, code=2 (version_mismatch), reason="server speaks protocol version 1, client sent 2"]`,
			frame:  AppendClose(nil, CodeVersionMismatch, "server speaks protocol version 1, client sent 2"),
			server: &ServerMsg{Type: TClose, Code: CodeVersionMismatch, Message: "server speaks protocol version 1, client sent 2"}},
		{name: "ok", dir: "s2c", meaning: `[5, rid=8]`, frame: AppendOK(nil, 8), server: &ServerMsg{Type: TOK, RID: 8}},
		{name: "room_joined", dir: "s2c", meaning: `[31, rid=1, room_id=7, code="K7XQ2M", mode="dm", max_players=4]`,
			frame:  AppendRoomJoined(nil, 1, 7, "K7XQ2M", "dm", 4),
			server: &ServerMsg{Type: TRoomJoined, RID: 1, RoomID: 7, JoinCode: "K7XQ2M", Mode: "dm", MaxPlayers: 4}},
		{name: "room_list", dir: "s2c", meaning: `[32, rid=4, rooms=[[room_id=7, mode="dm", players=3, max_players=4, locked=false, props={"map": 2}]]]`,
			frame: func() []byte {
				b, start := AppendRoomListHeader(nil, 4, 1)
				b = AppendRoomListEntry(b, 7, "dm", 3, 4, false, []byte{0x81, 0xa3, 'm', 'a', 'p', 0x02})
				EndFrame(b, start)
				return b
			}(),
			server: &ServerMsg{Type: TRoomList, RID: 4, Rooms: []RoomInfo{{ID: 7, Mode: "dm", Players: 3, MaxPlayers: 4, Props: Props{"map": {0x02}}}}}},
		{name: "room_left_kicked", dir: "s2c", meaning: `[33, rid=0, code=19 (kicked)]`,
			frame: AppendRoomLeft(nil, 0, CodeKicked), server: &ServerMsg{Type: TRoomLeft, Code: CodeKicked}},
		{name: "pong", dir: "s2c", meaning: `[34, client_time=123456, server_time_ms=1700000000000, tick=42, hold_us=1500]`,
			frame:  AppendPong(nil, 123456, 1700000000000, 42, 1500),
			server: &ServerMsg{Type: TPong, ClientTime: 123456, ServerTimeMs: 1700000000000, Tick: 42, HoldUs: 1500}},
		{name: "frame", dir: "s2c",
			meaning: `[40, tick=1234, server_time_ms=1700000000000, room=[room_id=7, full=false, master=1, locked=false, props=nil, leaves=[3], joins=[[4, "dora", {}]], player_props=[], states=[[2, [10, -5]]], presence=[[5, false]]], events=[[tick=1233, from=2, code=5, payload="hit"]], chat=[[from=1, to=0, server_time_ms=1700000000000, text="gg"]]]`,
			frame:   frameVector(),
			server: &ServerMsg{Type: TFrame, Frame: &Frame{Tick: 1234, ServerTimeMs: 1700000000000,
				Room: &RoomDelta{ID: 7, Master: 1, Leaves: []uint32{3}, Joins: []PlayerInfo{{ID: 4, Name: "dora", Props: Props{}}},
					States: []PlayerState{{ID: 2, Value: []byte{0x92, 0x0a, 0xfb}}}, Presence: []Presence{{ID: 5}}},
				Events: []Event{{Tick: 1233, From: 2, Code: 5, Payload: []byte{0xa3, 'h', 'i', 't'}}},
				Chat:   []ChatMsg{{From: 1, ServerTimeMs: 1700000000000, Text: "gg"}}}}},
		{name: "frame_no_room", dir: "s2c", meaning: `[40, tick=9, server_time_ms=1000, room=nil, events=[], chat=[[from=3, to=1, server_time_ms=1000, text="hi"]]]`,
			frame: func() []byte {
				b, start := AppendFrameStart(nil, 9, 1000)
				b = AppendNil(b)
				b = AppendArrayLen(b, 0)
				b = AppendChatEntry(AppendArrayLen(b, 1), 3, 1, 1000, []byte("hi"))
				EndFrame(b, start)
				return b
			}(),
			server: &ServerMsg{Type: TFrame, Frame: &Frame{Tick: 9, ServerTimeMs: 1000, Chat: []ChatMsg{{From: 3, To: 1, ServerTimeMs: 1000, Text: "hi"}}}}},
	}
}

func TestGoldenMessages(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("# message vectors: name<TAB>direction<TAB>hex of the whole frame (4-byte length + body)<TAB>meaning.\n")
	sb.WriteString("# Generated by codec/golden_messages_test.go; PROTOCOL.md explains each field.\n")
	lim := DefaultLimits
	for _, v := range messageVectors() {
		fmt.Fprintf(&sb, "%s\t%s\t%s\t%s\n", v.name, v.dir, hex.EncodeToString(v.frame), v.meaning)
		body := v.frame[FrameHeaderSize:]
		if n := int(v.frame[0])<<24 | int(v.frame[1])<<16 | int(v.frame[2])<<8 | int(v.frame[3]); n != len(body) {
			t.Fatalf("%s: length prefix %d, body %d", v.name, n, len(body))
		}
		switch v.dir {
		case "c2s":
			var m ClientMsg
			if err := DecodeClient(body, &lim, &m); err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
			if got := AppendClient(nil, &m); hex.EncodeToString(got) != hex.EncodeToString(v.frame) {
				t.Errorf("%s: re-encoded as %x, want %x", v.name, got, v.frame)
			}
			want := *v.client
			normalizeClient(&want)
			normalizeClient(&m)
			if !reflect.DeepEqual(m, want) {
				t.Errorf("%s: decoded %+v, want %+v", v.name, m, want)
			}
		case "s2c":
			m, err := DecodeServer(body)
			if err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
			if !reflect.DeepEqual(m, v.server) {
				t.Errorf("%s: decoded %+v, want %+v", v.name, m, v.server)
			}
		}
	}
	compareGolden(t, "testdata/golden/messages.txt", sb.String())
}

// normalizeClient makes empty and nil slices compare equal.
func normalizeClient(m *ClientMsg) {
	if len(m.Props) == 0 {
		m.Props = nil
	}
	if len(m.Targets) == 0 {
		m.Targets = nil
	}
	for _, f := range []*[]byte{&m.Name, &m.Mode, &m.Code, &m.Text, &m.Value, &m.Auth, &m.Resume} {
		if len(*f) == 0 {
			*f = nil
		}
	}
}
