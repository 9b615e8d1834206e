# The tickrelay wire protocol (PROTOCOL.md at the repository root): frames,
# and encoding and decoding of every message. In the GDScript subset that
# both Godot 3.2+ and Godot 4.x accept (see godot/README.md).
#
# Framing: every message is a 4-byte big-endian body length, then the body,
# a msgpack array whose first element is the message type. KCP carries a
# byte stream (the server may split a message across KCP messages): feed()
# every received KCP message, then take complete messages with
# read_message() until it returns null.
#
#     var proto = preload("res://addons/tickrelay/protocol.gd").new()
#     kcp.send(proto.encode_hello("ana", {"team": "red"}))
#     proto.feed(kcp.recv())
#     var m = proto.read_message()   # null, or a Dictionary (see decode_server)
#
# Decoded server messages are Dictionaries with "ok" (false: "error" says
# why), "type", and the fields named as in PROTOCOL.md section 5. Lists inside
# a frame stay positional arrays, as on the wire (decoding them into
# Dictionaries would cost more than the rest of a frame):
#     room.joins         [[player_id, name, props], ...]
#     room.player_props  [[player_id, props], ...]
#     room.states        [[player_id, value], ...]
#     room.presence      [[player_id, connected], ...]  (optional: null if absent)
#     events             [[tick, from, code, payload], ...]
#     chat               [[from, to, server_time_ms, text], ...], a lobby
#                        channel's line with two more: channel, from_name
#     packets            [[from, mode, channel, data], ...]: peer packets
#                        (Godot's multiplayer API; [] in most frames)
# Every element is checked for its shape and types before it is returned, so
# a caller can index them without checks. Elements beyond the known ones are
# skipped (forward compatibility).
#
# Frames, most of what a client receives, are read by a walker of their fixed
# structure (_read_frame) straight from the received bytes: only the values
# inside (states, properties, payloads, rows other than states) go through the
# msgpack decoder, which saves building and then checking the generic decode
# of the whole frame. Anything the walker does not expect falls back to the
# generic decode, so results and errors are the same for every input.

const MsgPack = preload("msgpack.gd")
# Decoders of announce, match, party, channel and redirect.
const Meeting = preload("protocol_meeting.gd")

const PROTOCOL_VERSION = 1

# Client to server.
const MSG_HELLO = 1
const MSG_CREATE_ROOM = 10
const MSG_JOIN_ROOM = 11
const MSG_JOIN_CODE = 12
const MSG_LIST_ROOMS = 13
const MSG_JOIN_OR_CREATE = 14
const MSG_LEAVE_ROOM = 15
const MSG_SET_ROOM_PROPS = 16
const MSG_SET_PLAYER_PROPS = 17
const MSG_SET_LOCKED = 18
const MSG_KICK = 19
const MSG_STATE = 20
const MSG_EVENT = 21
const MSG_CHAT = 22
const MSG_PING = 23
const MSG_BYE = 24
# The meeting place: matchmaking, parties, lobby chat (PROTOCOL.md 4.15-4.19).
const MSG_QUEUE_JOIN = 50
const MSG_QUEUE_LEAVE = 51
const MSG_BACKFILL = 52
const MSG_PARTY_CREATE = 53
const MSG_PARTY_JOIN = 54
const MSG_PARTY_LEAVE = 55
const MSG_CHANNEL_JOIN = 56
const MSG_CHANNEL_LEAVE = 57
const MSG_CHANNEL_SAY = 58
const MSG_CHANNEL_MEMBERS = 59
# Godot's multiplayer API (4.20), and a seat on another node of a cluster.
const MSG_PEER_PACKET = 60
const MSG_JOIN_SEAT = 61

# Server to client.
const MSG_WELCOME = 2
const MSG_ERROR = 3
const MSG_CLOSE = 4
const MSG_OK = 5
const MSG_ROOM_JOINED = 31
const MSG_ROOM_LIST = 32
const MSG_ROOM_LEFT = 33
const MSG_PONG = 34
const MSG_ANNOUNCE = 35
const MSG_MATCH = 36
const MSG_PARTY = 37
const MSG_CHANNEL = 38
const MSG_REDIRECT = 39
const MSG_FRAME = 40

# Event targets.
const TARGET_ALL = 0
const TARGET_OTHERS = 1
const TARGET_LIST = 2
const TARGET_MASTER = 3

# Peer packet modes (PROTOCOL.md 4.20).
const PEER_RELIABLE = 0
const PEER_UNRELIABLE = 1
const PEER_UNRELIABLE_ORDERED = 2

# Match outcomes (the match message, 5.9).
const MATCH_FOUND = 0
const MATCH_TIMED_OUT = 1
const MATCH_CANCELLED = 2
const MATCH_BACKFILL = 3

# Error and close codes (PROTOCOL.md section 6).
const CODE_BAD_REQUEST = 1
const CODE_VERSION_MISMATCH = 2
const CODE_ROOM_NOT_FOUND = 3
const CODE_ROOM_FULL = 4
const CODE_ROOM_LOCKED = 5
const CODE_NOT_IN_ROOM = 6
const CODE_NOT_MASTER = 7
const CODE_ALREADY_IN_ROOM = 8
const CODE_TOO_LARGE = 9
const CODE_LIMIT = 10
const CODE_SERVER_CLOSING = 11
const CODE_IDLE_TIMEOUT = 12
const CODE_SLOW_CONSUMER = 13
const CODE_FRAME_TOO_LARGE = 14
const CODE_HANDSHAKE_TIMEOUT = 15
const CODE_UNKNOWN_MESSAGE = 16
const CODE_MALFORMED = 17
const CODE_PLAYER_NOT_FOUND = 18
const CODE_KICKED = 19
const CODE_SERVER_FULL = 20
const CODE_NOT_READY = 21
const CODE_CLIENT_CLOSED = 22
const CODE_UNAUTHORIZED = 23
const CODE_FORBIDDEN = 24
const CODE_RATE_LIMITED = 25
const CODE_RESUME_FAILED = 26
const CODE_REPLACED = 27
const CODE_BANNED = 28
const CODE_ROOM_CLOSED = 29
const CODE_NOT_LEADER = 30
const CODE_IN_PARTY = 31
const CODE_QUEUED = 32
const CODE_UNAVAILABLE = 33  # another node of a cluster did not answer in time: try again

const CODE_NAMES = {
	1: "bad_request", 2: "version_mismatch", 3: "room_not_found", 4: "room_full",
	5: "room_locked", 6: "not_in_room", 7: "not_master", 8: "already_in_room",
	9: "too_large", 10: "limit", 11: "server_closing", 12: "idle_timeout",
	13: "slow_consumer", 14: "frame_too_large", 15: "handshake_timeout",
	16: "unknown_message", 17: "malformed", 18: "player_not_found", 19: "kicked",
	20: "server_full", 21: "not_ready", 22: "client_closed", 23: "unauthorized",
	24: "forbidden", 25: "rate_limited", 26: "resume_failed", 27: "replaced",
	28: "banned", 29: "room_closed", 30: "not_leader", 31: "in_party", 32: "queued", 33: "unavailable",
}

# Largest frame body the server accepts from a client (its default).
const MAX_CLIENT_FRAME = 16384

# The msgpack codec; its `error` tells why an encode failed.
var mp
# Largest server frame body accepted; a larger declared length is fatal.
var max_frame_bytes = 4 << 20
# Why the last encode_* returned empty bytes ("" when it did not).
var error = ""
# false (the default): the values in room.states are decoded. true: each is
# left as its msgpack bytes (a byte array; decode it with mp.decode()), which
# saves most of a frame's decode for a game that reads only some states. The
# bytes are only stepped over, not checked: a malformed value shows when it is
# decoded.
var lazy_states = false

var _rbuf  # StreamPeerBuffer: received stream bytes not yet consumed
var _rpos = 0  # start of the first unconsumed frame in _rbuf
var _wbuf  # StreamPeerBuffer that frames are assembled in
var _t_array
var _t_dict
var _t_float
var _fb  # _read_frame: the bytes, the position of the next byte, the end
var _fp = 0
var _fe = 0
var _no_bytes  # an empty byte array: _fb between frames


func _init():
	mp = MsgPack.new()
	_rbuf = StreamPeerBuffer.new()
	_rbuf.big_endian = true
	_wbuf = StreamPeerBuffer.new()
	_wbuf.big_endian = true
	_t_array = typeof([])
	_t_dict = typeof({})
	_t_float = typeof(1.5)
	_no_bytes = StreamPeerBuffer.new().data_array
	_fb = _no_bytes


static func code_name(code):
	if CODE_NAMES.has(code):
		return CODE_NAMES[code]
	return "code_%d" % code


# ---------------------------------------------------------------- framing

# Drops buffered stream bytes (a new connection).
func reset():
	_rbuf.clear()
	_rpos = 0


# Appends received stream bytes (one KCP message, any part of a frame).
func feed(bytes):
	if bytes.size() == 0:
		return
	_rbuf.seek(_rbuf.get_size())
	_rbuf.put_data(bytes)


# A received chunk that is exactly one frame while nothing is buffered (the
# usual case: a frame that fits a KCP message), decoded straight from it as
# read_message() would; null for any other chunk, which is then given to
# feed() as usual.
func read_whole(bytes):
	var n = bytes.size()
	if n < 5 or _rbuf.get_size() != _rpos:
		return null
	if ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) != n - 4 or n - 4 > max_frame_bytes:
		return null
	return _decode_slice(bytes, 4, n)


# Bytes received but not yet returned as messages.
func buffered():
	return _rbuf.get_size() - _rpos


# Returns null while no complete frame is buffered; otherwise the next
# message, decoded (see decode_server). A message with "fatal": true means the
# stream cannot continue (a zero or oversized frame length); the buffer is
# then dropped.
func read_message():
	var size = _rbuf.get_size()
	if size - _rpos < 4:
		if _rpos > 0 and _rpos == size:
			_rbuf.clear()
			_rpos = 0
		return null
	_rbuf.seek(_rpos)
	var n = _rbuf.get_u32()
	if n == 0 or n > max_frame_bytes:
		reset()
		var why = "zero-length frame" if n == 0 else "frame of %d bytes is over the %d-byte limit" % [n, max_frame_bytes]
		return {"ok": false, "fatal": true, "type": 0, "error": why}
	if size - _rpos - 4 < n:
		return null
	var from = _rpos + 4
	_rpos = from + n
	var m = _decode_slice(_rbuf.data_array, from, from + n)
	if _rpos == size:
		_rbuf.clear()
		_rpos = 0
	elif _rpos >= 65536:
		# Keep the buffer from growing without bound: move the rest down.
		_rbuf.seek(_rpos)
		var rest = _rbuf.get_data(size - _rpos)[1]
		_rbuf.clear()
		_rbuf.put_data(rest)
		_rpos = 0
	return m


# Wraps a message body (msgpack bytes) into a frame.
func frame(body):
	_wbuf.clear()
	_wbuf.put_u32(body.size())
	_wbuf.put_data(body)
	return _wbuf.data_array


# Encodes a message array into a frame; empty bytes and `error` set on failure
# (a value msgpack cannot encode, or a body over MAX_CLIENT_FRAME). With
# type, the message [type, fields] (a state: the one sent most often).
func encode_message(fields, type = -1):
	error = ""
	var f = mp.encode_frame(fields, type)
	if mp.error != "":
		error = mp.error
		return mp.empty_bytes()
	if f.size() - 4 > MAX_CLIENT_FRAME:
		error = "message of %d bytes is over the server's %d-byte limit" % [f.size() - 4, MAX_CLIENT_FRAME]
		return mp.empty_bytes()
	return f


# ---------------------------------------------------------------- client to server
# Each returns a whole frame (length prefix and body), or empty bytes with
# `error` set. rid is the request id (u32, not 0).

# auth_token, resume_token and last_tick are optional trailing fields, sent
# only when one of them is set (exactly as the Go codec does).
func encode_hello(player_name, props, auth_token = "", resume_token = "", last_tick = 0):
	var m = [MSG_HELLO, PROTOCOL_VERSION, player_name, props]
	if auth_token != "" or resume_token != "" or last_tick > 0:
		m.append(auth_token)
		m.append(resume_token)
		m.append(last_tick)
	return encode_message(m)


func encode_create_room(rid, mode, max_players, public, props):
	return encode_message([MSG_CREATE_ROOM, rid, mode, max_players, public, props])


func encode_join_room(rid, room_id):
	return encode_message([MSG_JOIN_ROOM, rid, room_id])


func encode_join_code(rid, code):
	return encode_message([MSG_JOIN_CODE, rid, code])


func encode_list_rooms(rid, mode, filter, limit):
	return encode_message([MSG_LIST_ROOMS, rid, mode, filter, limit])


func encode_join_or_create(rid, mode, props, max_players):
	return encode_message([MSG_JOIN_OR_CREATE, rid, mode, props, max_players])


func encode_leave_room(rid):
	return encode_message([MSG_LEAVE_ROOM, rid])


func encode_set_room_props(rid, props):
	return encode_message([MSG_SET_ROOM_PROPS, rid, props])


func encode_set_player_props(rid, props):
	return encode_message([MSG_SET_PLAYER_PROPS, rid, props])


func encode_set_locked(rid, locked):
	return encode_message([MSG_SET_LOCKED, rid, locked])


func encode_kick(rid, player_id):
	return encode_message([MSG_KICK, rid, player_id])


func encode_state(value):
	return encode_message(value, MSG_STATE)


# ids: an Array of player ids for TARGET_LIST, else null.
func encode_event(target, code, payload, ids):
	return encode_message([MSG_EVENT, target, code, payload, ids])


func encode_chat(to, text):
	return encode_message([MSG_CHAT, to, text])


# acked_tick (optional, sent when > 0): the last frame tick received.
func encode_ping(client_time, acked_tick = 0):
	if acked_tick > 0:
		return encode_message([MSG_PING, client_time, acked_tick])
	return encode_message([MSG_PING, client_time])


func encode_bye():
	return encode_message([MSG_BYE])


# regions: an Array of region names (most preferred first), or null for any;
# skill is sent as a float (as the Go codec does); props: null or a map that
# must be equal among a match's players.
func encode_queue_join(rid, mode, regions, skill, props):
	return encode_message([MSG_QUEUE_JOIN, rid, mode, regions, float(skill), props])


func encode_queue_leave(rid):
	return encode_message([MSG_QUEUE_LEAVE, rid])


# seats: the team of each open seat (0 in free-for-all); [] withdraws.
func encode_backfill(rid, seats):
	return encode_message([MSG_BACKFILL, rid, seats])


func encode_party_create(rid):
	return encode_message([MSG_PARTY_CREATE, rid])


func encode_party_join(rid, code):
	return encode_message([MSG_PARTY_JOIN, rid, code])


func encode_party_leave(rid):
	return encode_message([MSG_PARTY_LEAVE, rid])


func encode_channel_join(rid, name):
	return encode_message([MSG_CHANNEL_JOIN, rid, name])


func encode_channel_leave(rid, name):
	return encode_message([MSG_CHANNEL_LEAVE, rid, name])


func encode_channel_members(rid, name):
	return encode_message([MSG_CHANNEL_MEMBERS, rid, name])


func encode_channel_say(name, text):
	return encode_message([MSG_CHANNEL_SAY, name, text])


# to: 0 every other member, a player id that member, minus a player id
# every other member but that one; mode PEER_*; channel 0-255; data bytes.
func encode_peer_packet(to, mode, channel, data):
	return encode_message([MSG_PEER_PACKET, to, mode, channel, data])


func encode_join_seat(rid, token):
	return encode_message([MSG_JOIN_SEAT, rid, token])


# ---------------------------------------------------------------- server to client

# Decodes one message body. The result always has "ok", "type" and "error";
# with ok, the fields of the message type:
#   welcome      version, player_id, resume_token, tick_rate, server_time_ms,
#                tick, resumed (false if absent), room_id (0 if absent)
#   error        rid, code, message
#   close        code, reason
#   ok           rid
#   room_joined  rid, room_id, code, mode, max_players
#   room_list    rid, rooms: [{room_id, mode, players, max_players, locked, props}]
#   room_left    rid, code
#   pong         client_time, server_time_ms, tick, hold_us
#   frame        tick, server_time_ms, room (null or {room_id, full, master,
#                locked, props (null: unchanged), leaves, joins, player_props,
#                states, presence}), events, chat, packets ([] when absent)
#   announce, match, party, channel, redirect: see protocol_meeting.gd
# A type this client does not know gives ok = true and "unknown": true.
func decode_server(body):
	return _decode_slice(body, 0, body.size())


func _decode_slice(bytes, from, to):
	# Frames, the bulk of the traffic, go through a reader of their fixed
	# structure; anything it does not expect goes the generic way below,
	# which gives the same result (or the error) for every input.
	if to - from >= 2 and bytes[from + 1] == MSG_FRAME and bytes[from] >= 0x96 and bytes[from] <= 0x9f:
		var f = _read_frame(bytes, from, to)
		if f != null:
			return f
	var r = mp.decode_slice(bytes, from, to, true)
	if not r.ok:
		return _bad(0, "malformed msgpack: " + r.error)
	var a = r.value
	if typeof(a) != _t_array or a.size() == 0 or typeof(a[0]) != TYPE_INT:
		return _bad(0, "a message must be an array starting with its type")
	var t = a[0]
	if t == MSG_FRAME:
		return _frame(a)
	if t == MSG_PONG:
		if a.size() < 5 or not (_is_int(a[1]) and _is_int(a[2]) and _is_int(a[3]) and _is_int(a[4])):
			return _bad(t, "pong: want [34, client_time, server_time_ms, tick, hold_us]")
		return {"ok": true, "type": t, "error": "", "client_time": a[1], "server_time_ms": a[2], "tick": a[3], "hold_us": a[4]}
	if t == MSG_OK:
		if a.size() < 2 or not _is_int(a[1]):
			return _bad(t, "ok: want [5, rid]")
		return {"ok": true, "type": t, "error": "", "rid": a[1]}
	if t == MSG_ERROR:
		if a.size() < 4 or not (_is_int(a[1]) and _is_int(a[2]) and typeof(a[3]) == TYPE_STRING):
			return _bad(t, "error: want [3, rid, code, message]")
		return {"ok": true, "type": t, "error": "", "rid": a[1], "code": a[2], "message": a[3]}
	if t == MSG_ROOM_JOINED:
		if a.size() < 6 or not (_is_int(a[1]) and _is_int(a[2]) and typeof(a[3]) == TYPE_STRING and typeof(a[4]) == TYPE_STRING and _is_int(a[5])):
			return _bad(t, "room_joined: want [31, rid, room_id, code, mode, max_players]")
		return {"ok": true, "type": t, "error": "", "rid": a[1], "room_id": a[2], "code": a[3], "mode": a[4], "max_players": a[5]}
	if t == MSG_ROOM_LEFT:
		if a.size() < 3 or not (_is_int(a[1]) and _is_int(a[2])):
			return _bad(t, "room_left: want [33, rid, code]")
		return {"ok": true, "type": t, "error": "", "rid": a[1], "code": a[2]}
	if t == MSG_WELCOME:
		if a.size() < 7 or not (_is_int(a[1]) and _is_int(a[2]) and typeof(a[3]) == TYPE_STRING and _is_int(a[4]) and _is_int(a[5]) and _is_int(a[6])):
			return _bad(t, "welcome: want [2, version, player_id, resume_token, tick_rate, server_time_ms, tick]")
		var resumed = false
		var room_id = 0
		if a.size() >= 9:
			if typeof(a[7]) != TYPE_BOOL or not _is_int(a[8]):
				return _bad(t, "welcome: resumed must be a bool and room_id an integer")
			resumed = a[7]
			room_id = a[8]
		return {"ok": true, "type": t, "error": "", "version": a[1], "player_id": a[2], "resume_token": a[3],
			"tick_rate": a[4], "server_time_ms": a[5], "tick": a[6], "resumed": resumed, "room_id": room_id}
	if t == MSG_CLOSE:
		if a.size() < 3 or not (_is_int(a[1]) and typeof(a[2]) == TYPE_STRING):
			return _bad(t, "close: want [4, code, reason]")
		return {"ok": true, "type": t, "error": "", "code": a[1], "reason": a[2]}
	if t == MSG_ROOM_LIST:
		return _room_list(a)
	if Meeting.handles(t):
		return Meeting.decode(self, t, a)
	return {"ok": true, "type": t, "error": "", "unknown": true}


func _bad(t, why):
	return {"ok": false, "fatal": false, "type": t, "error": why}


func _is_int(v):
	return typeof(v) == TYPE_INT


func _is_props(v):
	return v == null or typeof(v) == _t_dict


# Checks that list is an Array of Arrays with at least n elements whose first
# is an integer (a player id or a tick).
func _is_rows(list, n):
	if typeof(list) != _t_array:
		return false
	for row in list:
		if typeof(row) != _t_array or row.size() < n or typeof(row[0]) != TYPE_INT:
			return false
	return true


func _room_list(a):
	if a.size() < 3 or not _is_int(a[1]) or typeof(a[2]) != _t_array:
		return _bad(MSG_ROOM_LIST, "room_list: want [32, rid, rooms]")
	var rooms = []
	for r in a[2]:
		if typeof(r) != _t_array or r.size() < 6 or not (_is_int(r[0]) and typeof(r[1]) == TYPE_STRING and _is_int(r[2]) and _is_int(r[3]) and typeof(r[4]) == TYPE_BOOL and _is_props(r[5])):
			return _bad(MSG_ROOM_LIST, "room_list: a room must be [room_id, mode, players, max_players, locked, props]")
		rooms.append({"room_id": r[0], "mode": r[1], "players": r[2], "max_players": r[3], "locked": r[4], "props": r[5] if r[5] != null else {}})
	return {"ok": true, "type": MSG_ROOM_LIST, "error": "", "rid": a[1], "rooms": rooms}


func _frame(a):
	if a.size() < 6 or not (_is_int(a[1]) and _is_int(a[2])):
		return _bad(MSG_FRAME, "frame: want [40, tick, server_time_ms, room, events, chat]")
	var events = a[4]
	if not _is_rows(events, 4):
		return _bad(MSG_FRAME, "frame: events must be [[tick, from, code, payload], ...]")
	for e in events:
		if not (_is_int(e[1]) and _is_int(e[2])):
			return _bad(MSG_FRAME, "frame: an event's from and code must be integers")
	var chat = a[5]
	if not _is_rows(chat, 4):
		return _bad(MSG_FRAME, "frame: chat must be [[from, to, server_time_ms, text], ...]")
	for c in chat:
		if not (_is_int(c[1]) and _is_int(c[2]) and typeof(c[3]) == TYPE_STRING):
			return _bad(MSG_FRAME, "frame: a chat line must be [from, to, server_time_ms, text]")
		if c.size() >= 6 and not (typeof(c[4]) == TYPE_STRING and typeof(c[5]) == TYPE_STRING):
			return _bad(MSG_FRAME, "frame: a lobby chat line's channel and from_name must be strings")
	var packets = []
	if a.size() >= 7:
		packets = a[6]
		if not _packets_ok(packets):
			return _bad(MSG_FRAME, "frame: packets must be [[from, mode, channel, data], ...]")
	var room = null
	var r = a[3]
	if r != null:
		if typeof(r) != _t_array or r.size() < 9:
			return _bad(MSG_FRAME, "frame: room must be nil or [room_id, full, master, locked, props, leaves, joins, player_props, states]")
		if not (_is_int(r[0]) and typeof(r[1]) == TYPE_BOOL and _is_int(r[2]) and typeof(r[3]) == TYPE_BOOL and _is_props(r[4])):
			return _bad(MSG_FRAME, "frame: bad room header")
		var leaves = r[5]
		if typeof(leaves) != _t_array:
			return _bad(MSG_FRAME, "frame: leaves must be an array of ids")
		for id in leaves:
			if typeof(id) != TYPE_INT:
				return _bad(MSG_FRAME, "frame: leaves must be an array of ids")
		var joins = r[6]
		if not _is_rows(joins, 3):
			return _bad(MSG_FRAME, "frame: joins must be [[player_id, name, props], ...]")
		for j in joins:
			if typeof(j[1]) != TYPE_STRING or not _is_props(j[2]):
				return _bad(MSG_FRAME, "frame: a join must be [player_id, name, props]")
		var pprops = r[7]
		if not _is_rows(pprops, 2):
			return _bad(MSG_FRAME, "frame: player_props must be [[player_id, props], ...]")
		for p in pprops:
			if not _is_props(p[1]):
				return _bad(MSG_FRAME, "frame: player props must be a map or nil")
		if not _is_rows(r[8], 2):
			return _bad(MSG_FRAME, "frame: states must be [[player_id, value], ...]")
		if lazy_states:
			# As the frame reader gives them: the value's msgpack bytes.
			for s in r[8]:
				s[1] = mp.encode(s[1])
		var presence = null
		if r.size() >= 10:
			presence = r[9]
			if not _is_rows(presence, 2):
				return _bad(MSG_FRAME, "frame: presence must be [[player_id, connected], ...]")
			for p in presence:
				if typeof(p[1]) != TYPE_BOOL:
					return _bad(MSG_FRAME, "frame: presence must be [[player_id, connected], ...]")
		room = {"room_id": r[0], "full": r[1], "master": r[2], "locked": r[3], "props": r[4],
			"leaves": leaves, "joins": joins, "player_props": pprops, "states": r[8], "presence": presence}
	return {"ok": true, "type": MSG_FRAME, "error": "", "tick": a[1], "server_time_ms": a[2], "room": room, "events": events, "chat": chat, "packets": packets}


# Peer packet rows: [from, mode, channel, data (bytes)].
func _packets_ok(list):
	if not _is_rows(list, 4):
		return false
	for pk in list:
		if typeof(pk[1]) != TYPE_INT or typeof(pk[2]) != TYPE_INT or typeof(pk[3]) != mp._t_bytes:
			return false
	return true


# ---------------------------------------------------------------- frame reader

# Reads a frame body straight from the bytes: the frame's structure
# (PROTOCOL.md section 5.6) is walked here, and only the values inside it
# (states, properties, event payloads, rows other than states) go through
# the msgpack decoder. Returns the same Dictionary as _frame() of the
# generic decode, or null for anything unexpected (other integer or array
# encodings, a wrong type, a malformed value, trailing bytes): the caller
# then decodes generically, which gives the result or the error.
# Nesting depths passed to value_at are those of the generic decode.
func _read_frame(bytes, from, to):
	if mp.max_depth <= 4:
		return null
	_fb = bytes
	_fp = from + 2
	_fe = to
	mp.open(bytes, from, to)
	var f = _walk_frame(bytes[from] & 0x0f)
	mp.close()
	_fb = _no_bytes
	return f


func _walk_frame(n):
	var tick = _rd_int()
	if tick == null:
		return null
	var server_ms = _rd_int()
	if server_ms == null or _fp >= _fe:
		return null
	var room = null
	if _fb[_fp] == 0xc0:
		_fp += 1
	else:
		room = _walk_room()
		if room == null:
			return null
	var events = _rd_rows(2)
	if events == null:
		return null
	for e in events:
		if e.size() < 4 or typeof(e[1]) != TYPE_INT or typeof(e[2]) != TYPE_INT:
			return null
	var chat = _rd_rows(2)
	if chat == null:
		return null
	for c in chat:
		if c.size() < 4 or typeof(c[1]) != TYPE_INT or typeof(c[2]) != TYPE_INT or typeof(c[3]) != TYPE_STRING:
			return null
		if c.size() >= 6 and (typeof(c[4]) != TYPE_STRING or typeof(c[5]) != TYPE_STRING):
			return null
	var packets = []
	if n >= 7:
		packets = _rd_rows(2)
		if packets == null or not _packets_ok(packets):
			return null
	for i in range(n - 7):
		if not _rd_skip(1):
			return null
	if _fp != _fe:
		return null
	return {"ok": true, "type": MSG_FRAME, "error": "", "tick": tick, "server_time_ms": server_ms, "room": room, "events": events, "chat": chat, "packets": packets}


func _walk_room():
	var b = _fb[_fp]
	if b < 0x99 or b > 0x9f:
		return null
	var n = b & 0x0f
	_fp += 1
	var room_id = _rd_int()
	if room_id == null or _fp + 3 > _fe:
		return null
	b = _fb[_fp]
	if b != 0xc2 and b != 0xc3:
		return null
	var full = b == 0xc3
	_fp += 1
	var master_id = _rd_int()
	if master_id == null or _fp + 2 > _fe:
		return null
	b = _fb[_fp]
	if b != 0xc2 and b != 0xc3:
		return null
	var is_locked = b == 0xc3
	_fp += 1
	var props = null
	if _fb[_fp] == 0xc0:
		_fp += 1
	else:
		props = mp.value_at(_fp, 2)
		if mp.next < 0 or typeof(props) != _t_dict:
			return null
		_fp = mp.next
	var count = _rd_array()
	if count < 0:
		return null
	var leaves = []
	leaves.resize(count)
	for i in range(count):
		var id = _rd_int()
		if id == null:
			return null
		leaves[i] = id
	var joins = _rd_rows(3)
	if joins == null:
		return null
	for j in joins:
		if j.size() < 3 or typeof(j[1]) != TYPE_STRING or not _is_props(j[2]):
			return null
	var pprops = _rd_rows(3)
	if pprops == null:
		return null
	for pp in pprops:
		if pp.size() < 2 or not _is_props(pp[1]):
			return null
	# States: [player_id, value] rows, read here; only the value is decoded.
	count = _rd_array()
	if count < 0:
		return null
	var states = []
	states.resize(count)
	if lazy_states:
		for i in range(count):
			if _fp >= _fe or _fb[_fp] != 0x92:
				return null
			_fp += 1
			var id = _rd_int()
			if id == null:
				return null
			mp.skip_at(_fp)
			if mp.next < 0:
				return null
			states[i] = [id, mp.bytes_at(_fp, mp.next)]
			_fp = mp.next
		count = 0  # the loop below has nothing left to do
	var v
	for i in range(count):
		# [id, value]: a positive fixint id and a fixmap value are the usual
		# row, read without the calls of the general case.
		if _fp + 2 < _fe and _fb[_fp] == 0x92:
			var id = _fb[_fp + 1]
			if id <= 0x7f:
				_fp += 2
			else:
				_fp += 1
				id = _rd_int()
				if id == null or _fp >= _fe:
					return null
			b = _fb[_fp]
			if b >= 0x80 and b <= 0x8f:
				v = mp.fixmap_at(_fp, 4)
			else:
				v = mp.value_at(_fp, 4)
			if mp.next < 0:
				return null
			_fp = mp.next
			states[i] = [id, v]
		else:
			var row = mp.value_at(_fp, 3)
			if mp.next < 0 or typeof(row) != _t_array or row.size() < 2 or typeof(row[0]) != TYPE_INT:
				return null
			_fp = mp.next
			states[i] = row
	var presence = null
	if n >= 10:
		presence = _rd_rows(3)
		if presence == null:
			return null
		for pr in presence:
			if pr.size() < 2 or typeof(pr[1]) != TYPE_BOOL:
				return null
	for i in range(n - 10):
		if not _rd_skip(2):
			return null
	return {"room_id": room_id, "full": full, "master": master_id, "locked": is_locked, "props": props,
		"leaves": leaves, "joins": joins, "player_props": pprops, "states": states, "presence": presence}


# An integer at _fp in any msgpack form that fits a GDScript int, or null.
func _rd_int():
	if _fp >= _fe:
		return null
	var b = _fb[_fp]
	if b <= 0x7f:
		_fp += 1
		return b
	if b >= 0xe0:
		_fp += 1
		return b - 256
	if b == 0xcc and _fe - _fp >= 2:
		_fp += 2
		return _fb[_fp - 1]
	if b == 0xcd and _fe - _fp >= 3:
		_fp += 3
		return (_fb[_fp - 2] << 8) | _fb[_fp - 1]
	if b == 0xce and _fe - _fp >= 5:
		_fp += 5
		return (_fb[_fp - 4] << 24) | (_fb[_fp - 3] << 16) | (_fb[_fp - 2] << 8) | _fb[_fp - 1]
	if b == 0xcf and _fe - _fp >= 9 and _fb[_fp + 1] < 0x80:
		var v = 0
		for i in range(_fp + 1, _fp + 9):
			v = (v << 8) | _fb[i]
		_fp += 9
		return v
	if b >= 0xd0 and b <= 0xd3:
		var v = mp.value_at(_fp, 2)
		if mp.next < 0:
			return null
		_fp = mp.next
		return v
	return null


# The element count of an array header at _fp (-1 if there is none, or it
# claims more elements than bytes are left).
func _rd_array():
	if _fp >= _fe:
		return -1
	var b = _fb[_fp]
	var n = -1
	if b >= 0x90 and b <= 0x9f:
		n = b & 0x0f
		_fp += 1
	elif b == 0xdc and _fe - _fp >= 3:
		n = (_fb[_fp + 1] << 8) | _fb[_fp + 2]
		_fp += 3
	elif b == 0xdd and _fe - _fp >= 5:
		n = (_fb[_fp + 1] << 24) | (_fb[_fp + 2] << 16) | (_fb[_fp + 3] << 8) | _fb[_fp + 4]
		_fp += 5
	if n > _fe - _fp:
		return -1
	return n


# An array of rows (each an Array whose first element is an integer), the
# rows at nesting depth `depth`; null if it is not that.
func _rd_rows(depth):
	var n = _rd_array()
	if n < 0:
		return null
	var rows = []
	rows.resize(n)
	for i in range(n):
		var row = mp.value_at(_fp, depth)
		if mp.next < 0 or typeof(row) != _t_array or row.size() == 0 or typeof(row[0]) != TYPE_INT:
			return null
		_fp = mp.next
		rows[i] = row
	return rows


func _rd_skip(depth):
	mp.value_at(_fp, depth)
	if mp.next < 0:
		return false
	_fp = mp.next
	return true
