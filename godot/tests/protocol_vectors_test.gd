# protocol.gd against the Go codec's golden message vectors
# (codec/testdata/golden/messages.txt: name<TAB>dir<TAB>hex<TAB>meaning):
#   - every s2c vector, read through the frame reader, decodes to what the Go
#     codec decodes it to (the Go test renders that into --expect as
#     name<TAB>rendering; render() below renders the GDScript side the same way);
#   - every c2s vector, decoded with msgpack and rebuilt with protocol.gd's
#     encoder for its type, encodes to the same bytes;
#   - all s2c frames as one stream, cut into random pieces, give the same
#     messages; every truncated body is rejected without a script error.
#
#   godot3-server --no-window --path PROJECT -s res://tests/protocol_vectors_test.gd -- \
#       --messages=FILE --expect=FILE [--seed=1]
extends SceneTree

const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
var mp
var t_dict
var t_array


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	t_dict = typeof({})
	t_array = typeof([])
	var a = h.args()
	var vectors = read_table(a.get("messages", ""), 4)
	var expect = {}
	for row in read_table(a.get("expect", ""), 2):
		expect[row[0]] = row[1]
	var rng = RandomNumberGenerator.new()
	rng.seed = int(a.get("seed", "1"))
	h.check(vectors.size() > 0, "no vectors")
	var s2c = []
	var kinds = {"s2c": 0, "c2s": 0}
	for v in vectors:
		var name = v[0]
		var bytes = h.hex_to_bytes(v[2].to_lower())
		kinds[v[1]] = kinds.get(v[1], 0) + 1
		if v[1] == "s2c":
			if not h.check(expect.has(name), name + ": no expectation from the Go codec"):
				continue
			s2c.append([name, bytes, expect[name]])
			var p = Protocol.new()
			p.feed(bytes)
			var m = p.read_message()
			if not h.check(m != null, name + ": no message from a whole frame"):
				continue
			h.check(m.ok, name + ": " + str(m.error))
			var got = render(m)
			h.check(got == expect[name], name + ":\n  got  %s\n  want %s" % [got, expect[name]])
			h.check(p.read_message() == null and p.buffered() == 0, name + ": bytes left after the frame")
			check_truncations(name, bytes)
		elif v[1] == "c2s":
			check_c2s(name, bytes)
		else:
			h.check(false, name + ": direction " + v[1])
	check_stream(s2c, rng)
	print("vectors: %s" % str(kinds))
	h.finish(self)


func read_table(path, fields):
	var rows = []
	var text = h.read_text(path)
	if not h.check(text != null, "cannot read " + path):
		return rows
	for line in text.split("\n"):
		if line.ends_with("\r"):
			line = line.substr(0, line.length() - 1)
		if line == "" or line.begins_with("#"):
			continue
		var f = line.split("\t")
		if h.check(f.size() >= fields, "%s: want %d tab-separated fields: %s" % [path, fields, line]):
			rows.append(f)
	return rows


# Rebuilds a client message from its decoded fields with the encoder of its
# type and compares the frames byte for byte.
func check_c2s(name, frame):
	var p = Protocol.new()
	var body = h.slice(frame, 4, frame.size())
	var r = mp.decode(body)
	if not h.check(r.ok and typeof(r.value) == t_array, name + ": body does not decode: " + str(r.error)):
		return
	var a = r.value
	var t = a[0]
	var out
	if t == Protocol.MSG_HELLO:
		h.check(a[1] == Protocol.PROTOCOL_VERSION, name + ": version")
		out = p.encode_hello(a[2], a[3], opt(a, 4, ""), opt(a, 5, ""), opt(a, 6, 0))
	elif t == Protocol.MSG_CREATE_ROOM:
		out = p.encode_create_room(a[1], a[2], a[3], a[4], a[5])
	elif t == Protocol.MSG_JOIN_ROOM:
		out = p.encode_join_room(a[1], a[2])
	elif t == Protocol.MSG_JOIN_CODE:
		out = p.encode_join_code(a[1], a[2])
	elif t == Protocol.MSG_LIST_ROOMS:
		out = p.encode_list_rooms(a[1], a[2], a[3], a[4])
	elif t == Protocol.MSG_JOIN_OR_CREATE:
		out = p.encode_join_or_create(a[1], a[2], a[3], a[4])
	elif t == Protocol.MSG_LEAVE_ROOM:
		out = p.encode_leave_room(a[1])
	elif t == Protocol.MSG_SET_ROOM_PROPS:
		out = p.encode_set_room_props(a[1], a[2])
	elif t == Protocol.MSG_SET_PLAYER_PROPS:
		out = p.encode_set_player_props(a[1], a[2])
	elif t == Protocol.MSG_SET_LOCKED:
		out = p.encode_set_locked(a[1], a[2])
	elif t == Protocol.MSG_KICK:
		out = p.encode_kick(a[1], a[2])
	elif t == Protocol.MSG_STATE:
		out = p.encode_state(a[1])
	elif t == Protocol.MSG_EVENT:
		out = p.encode_event(a[1], a[2], a[3], a[4])
	elif t == Protocol.MSG_CHAT:
		out = p.encode_chat(a[1], a[2])
	elif t == Protocol.MSG_PING:
		out = p.encode_ping(a[1], opt(a, 2, 0))
	elif t == Protocol.MSG_BYE:
		out = p.encode_bye()
	elif t == Protocol.MSG_QUEUE_JOIN:
		out = p.encode_queue_join(a[1], a[2], a[3], a[4], a[5])
	elif t == Protocol.MSG_QUEUE_LEAVE:
		out = p.encode_queue_leave(a[1])
	elif t == Protocol.MSG_BACKFILL:
		out = p.encode_backfill(a[1], a[2])
	elif t == Protocol.MSG_PARTY_CREATE:
		out = p.encode_party_create(a[1])
	elif t == Protocol.MSG_PARTY_JOIN:
		out = p.encode_party_join(a[1], a[2])
	elif t == Protocol.MSG_PARTY_LEAVE:
		out = p.encode_party_leave(a[1])
	elif t == Protocol.MSG_CHANNEL_JOIN:
		out = p.encode_channel_join(a[1], a[2])
	elif t == Protocol.MSG_CHANNEL_LEAVE:
		out = p.encode_channel_leave(a[1], a[2])
	elif t == Protocol.MSG_CHANNEL_MEMBERS:
		out = p.encode_channel_members(a[1], a[2])
	elif t == Protocol.MSG_CHANNEL_SAY:
		out = p.encode_channel_say(a[1], a[2])
	elif t == Protocol.MSG_PEER_PACKET:
		out = p.encode_peer_packet(a[1], a[2], a[3], a[4])
	elif t == Protocol.MSG_JOIN_SEAT:
		out = p.encode_join_seat(a[1], a[2])
	else:
		h.check(false, "%s: protocol.gd has no encoder for client message type %d" % [name, t])
		return
	h.check(p.error == "", name + ": encode error " + p.error)
	h.check(out == frame, "%s: re-encoded\n  got  %s\n  want %s" % [name, hex(out), hex(frame)])


func opt(a, i, fallback):
	return a[i] if a.size() > i else fallback


# Every strict prefix of a body is malformed: an error result, never a script
# error or a message.
func check_truncations(name, frame):
	var p = Protocol.new()
	var body = h.slice(frame, 4, frame.size())
	var bad = 0
	for n in range(body.size()):
		var m = p.decode_server(h.slice(body, 0, n))
		if m.ok:
			bad += 1
	h.check(bad == 0, "%s: %d truncated bodies decoded" % [name, bad])


# All server frames as one stream, fed in random pieces (as KCP may deliver
# them), twice over: the same messages come out, in order.
func check_stream(s2c, rng):
	var stream = StreamPeerBuffer.new()
	for round_ in range(2):
		for v in s2c:
			stream.put_data(v[1])
	var all = stream.data_array
	for trial in range(20):
		var p = Protocol.new()
		var got = []
		var pos = 0
		var n = all.size()
		while pos < n:
			var size = rng.randi_range(1, 9) if trial % 2 == 0 else rng.randi_range(1, 300)
			if pos + size > n:
				size = n - pos
			p.feed(h.slice(all, pos, pos + size))
			pos += size
			while true:
				var m = p.read_message()
				if m == null:
					break
				got.append(render(m))
		var ok = got.size() == 2 * s2c.size()
		if ok:
			for i in range(got.size()):
				if got[i] != s2c[i % s2c.size()][2]:
					ok = false
		h.check(ok, "stream trial %d: %d messages, want %d" % [trial, got.size(), 2 * s2c.size()])
		h.check(p.buffered() == 0, "stream trial %d: %d bytes left" % [trial, p.buffered()])


func hex(bytes):
	var s = ""
	for b in bytes:
		s += "%02x" % b
	return s


# ---------------------------------------------------------------- rendering
# Must match renderServer in godot/enginetest/protocol_test.go.

func enc(v):
	return hex(mp.encode(v))


func props(p):
	if p == null:
		return "nil"
	var keys = p.keys()
	keys.sort()
	var parts = []
	for k in keys:
		parts.append("%s=%s" % [k, enc(p[k])])
	return "{" + join(parts, ",") + "}"


func join(parts, sep):
	var s = ""
	for i in range(parts.size()):
		if i > 0:
			s += sep
		s += str(parts[i])
	return s


func b(v):
	return "true" if v else "false"


func render(m):
	if not m.ok:
		return "error: " + m.error
	var t = m.type
	if t == Protocol.MSG_WELCOME:
		return "welcome version=%d player_id=%d resume_token=%s tick_rate=%d server_time_ms=%d tick=%d resumed=%s room_id=%d" % [
			m.version, m.player_id, m.resume_token, m.tick_rate, m.server_time_ms, m.tick, b(m.resumed), m.room_id]
	if t == Protocol.MSG_ERROR:
		return "error rid=%d code=%d message=%s" % [m.rid, m.code, m.message]
	if t == Protocol.MSG_CLOSE:
		return "close code=%d reason=%s" % [m.code, m.reason]
	if t == Protocol.MSG_OK:
		return "ok rid=%d" % m.rid
	if t == Protocol.MSG_ROOM_JOINED:
		return "room_joined rid=%d room_id=%d code=%s mode=%s max_players=%d" % [m.rid, m.room_id, m.code, m.mode, m.max_players]
	if t == Protocol.MSG_ROOM_LIST:
		var rooms = []
		for r in m.rooms:
			rooms.append("%d,%s,%d,%d,%s,%s" % [r.room_id, r.mode, r.players, r.max_players, b(r.locked), props(r.props)])
		return "room_list rid=%d rooms=[%s]" % [m.rid, join(rooms, ";")]
	if t == Protocol.MSG_ROOM_LEFT:
		return "room_left rid=%d code=%d" % [m.rid, m.code]
	if t == Protocol.MSG_PONG:
		return "pong client_time=%d server_time_ms=%d tick=%d hold_us=%d" % [m.client_time, m.server_time_ms, m.tick, m.hold_us]
	if t == Protocol.MSG_FRAME:
		var room = "nil"
		var r = m.room
		if r != null:
			var joins = []
			for j in r.joins:
				joins.append("%d,%s,%s" % [j[0], j[1], props(j[2])])
			var pprops = []
			for p in r.player_props:
				pprops.append("%d,%s" % [p[0], props(p[1])])
			var states = []
			for s in r.states:
				states.append("%d,%s" % [s[0], enc(s[1])])
			var presence = []
			if r.presence != null:
				for p in r.presence:
					presence.append("%d,%s" % [p[0], b(p[1])])
			room = "%d,%s,%d,%s,%s,leaves=[%s],joins=[%s],player_props=[%s],states=[%s],presence=[%s]" % [
				r.room_id, b(r.full), r["master"], b(r.locked), props(r.props), join(r.leaves, ","),
				join(joins, ";"), join(pprops, ";"), join(states, ";"), join(presence, ";")]
		var events = []
		for e in m.events:
			events.append("%d,%d,%d,%s" % [e[0], e[1], e[2], enc(e[3])])
		var chat = []
		for c in m.chat:
			var line = "%d,%d,%d,%s" % [c[0], c[1], c[2], c[3]]
			if c.size() >= 6 and c[4] != "":
				line += ",%s,%s" % [c[4], c[5]]
			chat.append(line)
		var out = "frame tick=%d server_time_ms=%d room=%s events=[%s] chat=[%s]" % [
			m.tick, m.server_time_ms, room, join(events, ";"), join(chat, ";")]
		if m.packets.size() > 0:
			var pks = []
			for pk in m.packets:
				pks.append("%d,%d,%d,%s" % [pk[0], pk[1], pk[2], hex(pk[3])])
			out += " packets=[%s]" % join(pks, ";")
		return out
	if t == Protocol.MSG_ANNOUNCE:
		return "announce text=%s server_time_ms=%d" % [m.text, m.server_time_ms]
	if t == Protocol.MSG_MATCH:
		return "match outcome=%d room_id=%d team=%d region=%s waited_ms=%d" % [m.outcome, m.room_id, m.team, m.region, m.waited_ms]
	if t == Protocol.MSG_PARTY:
		return "party party_id=%d code=%s leader=%d members=[%s]" % [m.party_id, m.code, m.leader, members(m.members)]
	if t == Protocol.MSG_CHANNEL:
		var hist = []
		for l in m.history:
			hist.append("%d,%s,%d,%s" % [l[0], l[1], l[2], l[3]])
		return "channel rid=%d name=%s count=%d members=[%s] history=[%s]" % [m.rid, m.name, m.count, members(m.members), join(hist, ";")]
	if t == Protocol.MSG_REDIRECT:
		return "redirect rid=%d node=%d kcp_addr=%s ws_url=%s token=%s" % [m.rid, m.node, m.kcp_addr, m.ws_url, m.token]
	return "unknown type %d" % t


func members(list):
	var parts = []
	for x in list:
		parts.append("%d,%s" % [x[0], x[1]])
	return join(parts, ";")
