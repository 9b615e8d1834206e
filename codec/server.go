package codec

// Server-to-client encoders. Each appends a complete frame (length prefix
// and body) except the frame parts, which the relay assembles itself so
// that shared parts are encoded once per tick.

func frameOf(b []byte, fields int, t Type) ([]byte, int) {
	b, start := BeginFrame(b)
	b = AppendArrayLen(b, fields)
	return AppendUint(b, uint64(t)), start
}

// AppendWelcome appends [2, version, player_id, resume_token, tick_rate,
// server_time_ms, tick, resumed, room_id]; room_id is 0 when in no room.
func AppendWelcome(b []byte, playerID uint32, resumeToken string, tickRate int, serverTimeMs int64, tick uint64, resumed bool, roomID uint32) []byte {
	b, start := frameOf(b, 9, TWelcome)
	b = AppendUint(b, ProtocolVersion)
	b = AppendUint(b, uint64(playerID))
	b = AppendStr(b, resumeToken)
	b = AppendUint(b, uint64(tickRate))
	b = AppendInt(b, serverTimeMs)
	b = AppendUint(b, tick)
	b = AppendBool(b, resumed)
	b = AppendUint(b, uint64(roomID))
	EndFrame(b, start)
	return b
}

// AppendError appends [3, rid, code, message]; rid 0 answers no request.
func AppendError(b []byte, rid uint32, code Code, msg string) []byte {
	b, start := frameOf(b, 4, TError)
	b = AppendUint(b, uint64(rid))
	b = AppendUint(b, uint64(code))
	b = AppendStr(b, msg)
	EndFrame(b, start)
	return b
}

// AppendClose appends [4, code, reason], the last message of a session.
func AppendClose(b []byte, code Code, reason string) []byte {
	b, start := frameOf(b, 3, TClose)
	b = AppendUint(b, uint64(code))
	b = AppendStr(b, reason)
	EndFrame(b, start)
	return b
}

// AppendOK appends [5, rid].
func AppendOK(b []byte, rid uint32) []byte {
	b, start := frameOf(b, 2, TOK)
	b = AppendUint(b, uint64(rid))
	EndFrame(b, start)
	return b
}

// AppendRoomJoined appends [31, rid, room_id, join_code, mode, max_players].
func AppendRoomJoined(b []byte, rid, roomID uint32, code, mode string, maxPlayers int) []byte {
	b, start := frameOf(b, 6, TRoomJoined)
	b = AppendUint(b, uint64(rid))
	b = AppendUint(b, uint64(roomID))
	b = AppendStr(b, code)
	b = AppendStr(b, mode)
	b = AppendUint(b, uint64(maxPlayers))
	EndFrame(b, start)
	return b
}

// AppendRoomListHeader begins [32, rid, rooms]; follow it with n calls to
// AppendRoomListEntry and then EndFrame(b, start).
func AppendRoomListHeader(b []byte, rid uint32, n int) ([]byte, int) {
	b, start := frameOf(b, 3, TRoomList)
	b = AppendUint(b, uint64(rid))
	return AppendArrayLen(b, n), start
}

// AppendRoomListEntry appends [room_id, mode, players, max_players, locked, props];
// props is an encoded map (or empty for none).
func AppendRoomListEntry(b []byte, roomID uint32, mode string, players, maxPlayers int, locked bool, props []byte) []byte {
	b = AppendArrayLen(b, 6)
	b = AppendUint(b, uint64(roomID))
	b = AppendStr(b, mode)
	b = AppendUint(b, uint64(players))
	b = AppendUint(b, uint64(maxPlayers))
	b = AppendBool(b, locked)
	if len(props) == 0 {
		return AppendMapLen(b, 0)
	}
	return append(b, props...)
}

// AppendRoomLeft appends [33, rid, code]; rid 0 when the server removed the
// player (code says why, e.g. kicked).
func AppendRoomLeft(b []byte, rid uint32, code Code) []byte {
	b, start := frameOf(b, 3, TRoomLeft)
	b = AppendUint(b, uint64(rid))
	b = AppendUint(b, uint64(code))
	EndFrame(b, start)
	return b
}

// AppendPong appends [34, client_time, server_time_ms, tick, hold_us]. A ping
// waits up to one tick in the server; hold_us lets a client subtract that
// wait from its round-trip time.
func AppendPong(b []byte, clientTime, serverTimeMs int64, tick uint64, holdUs int64) []byte {
	b, start := frameOf(b, 5, TPong)
	b = AppendInt(b, clientTime)
	b = AppendInt(b, serverTimeMs)
	b = AppendUint(b, tick)
	b = AppendInt(b, holdUs)
	EndFrame(b, start)
	return b
}

// AppendAnnounce appends [35, text, server_time_ms]: a message from the
// relay's operator to every player (a restart coming, say).
func AppendAnnounce(b []byte, text string, serverTimeMs int64) []byte {
	b, start := frameOf(b, 3, TAnnounce)
	b = AppendStr(b, text)
	b = AppendInt(b, serverTimeMs)
	EndFrame(b, start)
	return b
}

// AppendMatch appends [36, outcome, room_id, team, region, waited_ms]: what
// became of the player's place in the matchmaker's queue.
func AppendMatch(b []byte, outcome int, roomID uint32, team int, region string, waitedMs int64) []byte {
	b, start := frameOf(b, 6, TMatch)
	b = AppendUint(b, uint64(outcome))
	b = AppendUint(b, uint64(roomID))
	b = AppendUint(b, uint64(team))
	b = AppendStr(b, region)
	b = AppendInt(b, waitedMs)
	EndFrame(b, start)
	return b
}

// PartyMember is one member of a party message.
type PartyMember struct {
	ID   uint32
	Name string
}

// AppendParty appends [37, party_id, code, leader, members]; party_id 0
// (with an empty code and no members) says the player is in no party.
func AppendParty(b []byte, partyID uint32, code string, leader uint32, members []PartyMember) []byte {
	b, start := frameOf(b, 5, TParty)
	b = AppendUint(b, uint64(partyID))
	b = AppendStr(b, code)
	b = AppendUint(b, uint64(leader))
	b = AppendArrayLen(b, len(members))
	for _, m := range members {
		b = AppendArrayLen(b, 2)
		b = AppendUint(b, uint64(m.ID))
		b = AppendStr(b, m.Name)
	}
	EndFrame(b, start)
	return b
}

// AppendChannelHeader begins [38, rid, name, count, members, history];
// follow it with len(members) AppendChannelMember calls, the history's
// array header and its AppendChannelLine calls (each line as encoded by
// AppendChannelLine), then EndFrame(b, start).
func AppendChannelHeader(b []byte, rid uint32, name string, count int, members int) ([]byte, int) {
	b, start := frameOf(b, 6, TChannel)
	b = AppendUint(b, uint64(rid))
	b = AppendStr(b, name)
	b = AppendUint(b, uint64(count))
	return AppendArrayLen(b, members), start
}

// AppendChannelMember appends [id, name].
func AppendChannelMember(b []byte, id uint32, name string) []byte {
	b = AppendArrayLen(b, 2)
	b = AppendUint(b, uint64(id))
	return AppendStr(b, name)
}

// AppendChannelLine appends one line of a channel's history:
// [from, name, server_time_ms, text].
func AppendChannelLine(b []byte, from uint32, name string, serverTimeMs int64, text []byte) []byte {
	b = AppendArrayLen(b, 4)
	b = AppendUint(b, uint64(from))
	b = AppendStr(b, name)
	b = AppendInt(b, serverTimeMs)
	return AppendStrBytes(b, text)
}

// FrameFields is the element count of a frame message:
// [40, tick, server_time_ms, room, events, chat].
const FrameFields = 6

// RoomFields is the element count of a frame's room part:
// [room_id, full, master, locked, props, leaves, joins, player_props, states, presence].
const RoomFields = 10

// AppendFrameStart begins a frame message up to and excluding its room
// part; the caller appends the room part, events and chat, then EndFrame.
func AppendFrameStart(b []byte, tick uint64, serverTimeMs int64) ([]byte, int) {
	b, start := frameOf(b, FrameFields, TFrame)
	b = AppendUint(b, tick)
	b = AppendInt(b, serverTimeMs)
	return b, start
}

// AppendEventEntry appends one event: [tick, from, code, payload].
func AppendEventEntry(b []byte, tick uint64, from, code uint32, payload []byte) []byte {
	b = append(b, 0x94)
	b = AppendUint(b, tick)
	b = AppendUint(b, uint64(from))
	b = AppendUint(b, uint64(code))
	return AppendRawOrNil(b, payload)
}

// AppendChatEntry appends one chat line: [from, to, server_time_ms, text].
func AppendChatEntry(b []byte, from, to uint32, serverTimeMs int64, text []byte) []byte {
	b = append(b, 0x94)
	b = AppendUint(b, uint64(from))
	b = AppendUint(b, uint64(to))
	b = AppendInt(b, serverTimeMs)
	return AppendStrBytes(b, text)
}

// AppendRedirect appends [39, rid, node, kcp_addr, ws_url, token]: the
// room the request asked for is on another node of the cluster; connect
// there and send join_seat with token.
func AppendRedirect(b []byte, rid uint32, node uint8, kcpAddr, wsURL, token string) []byte {
	b, start := frameOf(b, 6, TRedirect)
	b = AppendUint(b, uint64(rid))
	b = AppendUint(b, uint64(node))
	b = AppendStr(b, kcpAddr)
	b = AppendStr(b, wsURL)
	b = AppendStr(b, token)
	EndFrame(b, start)
	return b
}

// AppendPeerPacket appends one peer packet of a frame:
// [from, mode, channel, data].
func AppendPeerPacket(b []byte, from uint32, mode, channel uint8, data []byte) []byte {
	b = append(b, 0x94)
	b = AppendUint(b, uint64(from))
	b = AppendUint(b, uint64(mode))
	b = AppendUint(b, uint64(channel))
	return AppendBin(b, data)
}

// FrameWithPackets turns the frame begun at start (AppendFrameStart) into
// one of FrameFields+1 elements: the caller then appends the packets array.
// Frames without peer packets keep their six elements.
func FrameWithPackets(b []byte, start int) {
	b[start+FrameHeaderSize] = 0x90 | (FrameFields + 1)
}

// AppendChannelChatEntry appends one lobby chat line:
// [from, 0, server_time_ms, text, channel, from_name]. The sender need not
// share a room with the reader, so its name travels with the line.
func AppendChannelChatEntry(b []byte, from uint32, serverTimeMs int64, text []byte, channel, fromName string) []byte {
	b = append(b, 0x96)
	b = AppendUint(b, uint64(from))
	b = AppendUint(b, 0)
	b = AppendInt(b, serverTimeMs)
	b = AppendStrBytes(b, text)
	b = AppendStr(b, channel)
	return AppendStr(b, fromName)
}
