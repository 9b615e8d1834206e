# protocol.gd checks that need no Go vectors: framing edge cases, malformed
# and hostile messages, forward compatibility (extra elements, unknown
# types), encode errors and limits.
#
#   godot3-server --no-window --path PROJECT -s res://tests/protocol_unit_test.gd
extends SceneTree

const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
var mp


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	test_framing()
	test_big_frames()
	test_bad_lengths()
	test_forward_compat()
	test_malformed()
	test_encode()
	test_skip()
	test_lazy_states()
	test_state_rows()
	test_meeting_messages()
	h.finish(self)


func frame_of(value):
	var p = Protocol.new()
	return p.frame(mp.encode(value))


func concat(list):
	var b = StreamPeerBuffer.new()
	for x in list:
		b.put_data(x)
	return b.data_array


func test_framing():
	var p = Protocol.new()
	h.check(p.read_message() == null, "empty buffer gives null")
	var f1 = frame_of([5, 1])
	var f2 = frame_of([5, 2])
	var both = concat([f1, f2])
	# Byte by byte: a message only once its last byte is in.
	var got = []
	for i in range(both.size()):
		p.feed(h.slice(both, i, i + 1))
		var m = p.read_message()
		if m != null:
			got.append([i, m.rid])
	h.check(got == [[f1.size() - 1, 1], [both.size() - 1, 2]], "byte by byte: %s" % str(got))
	h.check(p.buffered() == 0, "buffer empty after")
	# Many frames in one feed.
	var list = []
	for i in range(100):
		list.append(frame_of([5, i + 1]))
	p.feed(concat(list))
	var n = 0
	while true:
		var m = p.read_message()
		if m == null:
			break
		n += 1
		h.check(m.ok and m.rid == n, "frame %d in order" % n)
	h.check(n == 100, "100 frames from one feed: %d" % n)
	p.feed(StreamPeerBuffer.new().data_array)
	h.check(p.read_message() == null, "feeding nothing is harmless")
	# read_whole(): a chunk that is exactly one frame, nothing buffered.
	var fr = frame_of([40, 5, 6, [7, false, 1, false, null, [], [], [], [[1, {"a": 1}]]], [], []])
	var w = p.read_whole(fr)
	p.feed(fr)
	var r = p.read_message()
	h.check(w != null and w.ok and str(w) == str(r) and p.read_message() == null, "read_whole as feed + read_message: %s" % str(w))
	h.check(p.read_whole(concat([f1, f2])) == null and p.read_whole(h.slice(fr, 0, fr.size() - 1)) == null, "read_whole: two frames, or a part, are not one")
	h.check(p.read_whole(h.slice(fr, 0, 4)) == null and p.read_whole(StreamPeerBuffer.new().data_array) == null, "read_whole: no body")
	p.feed(h.slice(f1, 0, 3))
	h.check(p.read_whole(f2) == null, "read_whole with bytes buffered before")
	p.feed(h.slice(f1, 3, f1.size()))
	h.check(p.read_message().rid == 1 and p.buffered() == 0, "the buffered frame completes")
	var bad = frame_of([5, "x"])
	h.check(str(p.read_whole(bad)) == str(p.decode_server(h.slice(bad, 4, bad.size()))) and not p.read_whole(bad).ok, "read_whole of a malformed message: its error")
	p.max_frame_bytes = 8
	h.check(p.read_whole(fr) == null, "read_whole leaves an oversized frame to read_message")
	p.max_frame_bytes = 4 << 20


func test_big_frames():
	# A frame larger than one KCP message (1176 bytes) and larger than the
	# compaction threshold, split in KCP-sized pieces, plus a small one after.
	var p = Protocol.new()
	var states = []
	for i in range(3000):
		states.append([i + 1, {"pos": Vector2(i, -i), "name": "player%d" % i}])
	var big = frame_of([40, 7, 1000, [1, true, 1, false, {}, [], [], [], states], [], []])
	h.check(big.size() > 65536, "big frame is %d bytes" % big.size())
	var stream = concat([big, frame_of([5, 9]), big])
	var pos = 0
	var got = []
	while pos < stream.size():
		var end = int(min(pos + 1176, stream.size()))
		p.feed(h.slice(stream, pos, end))
		pos = end
		while true:
			var m = p.read_message()
			if m == null:
				break
			got.append(m)
	h.check(got.size() == 3, "3 messages: %d" % got.size())
	if got.size() == 3:
		h.check(got[0].ok and got[0].room.states.size() == 3000, "big frame decoded")
		h.check(got[0].room.states[2999][1].pos == Vector2(2999, -2999), "last state intact")
		h.check(got[1].ok and got[1].rid == 9, "small frame between")
		h.check(got[2].ok and got[2].room.states.size() == 3000, "second big frame decoded")
	h.check(p.buffered() == 0, "nothing left")


func test_bad_lengths():
	var p = Protocol.new()
	p.feed(h.hex_to_bytes("00000000"))
	var m = p.read_message()
	h.check(m != null and not m.ok and m.fatal, "zero-length frame is fatal: %s" % str(m))
	h.check(p.buffered() == 0, "buffer dropped after a fatal error")
	p = Protocol.new()
	p.max_frame_bytes = 1000
	p.feed(h.hex_to_bytes("000003e9"))
	m = p.read_message()
	h.check(m != null and not m.ok and m.fatal, "frame over max_frame_bytes is fatal before its body: %s" % str(m))
	p = Protocol.new()
	p.feed(h.hex_to_bytes("ffffffff01"))
	m = p.read_message()
	h.check(m != null and not m.ok and m.fatal, "4 GiB frame is fatal")
	# A body that is not msgpack is an error, not fatal: the framing holds.
	p = Protocol.new()
	p.feed(concat([h.hex_to_bytes("00000001c1"), frame_of([5, 3])]))
	m = p.read_message()
	h.check(m != null and not m.ok and not m.fatal, "bad body: %s" % str(m))
	m = p.read_message()
	h.check(m != null and m.ok and m.rid == 3, "the next frame still decodes")


func decode(v):
	var p = Protocol.new()
	return p.decode_server(mp.encode(v))


func test_forward_compat():
	var m = decode([5, 8, "new field", [1, 2]])
	h.check(m.ok and m.rid == 8, "ok with extra fields: %s" % str(m))
	m = decode([2, 1, 3, "tok", 60, 1700000000000, 5])
	h.check(m.ok and m.player_id == 3 and m.tick_rate == 60 and m.resumed == false and m.room_id == 0, "welcome of 7 fields: %s" % str(m))
	m = decode([2, 1, 3, "tok", 60, 1700000000000, 5, true, 9, "later", {}])
	h.check(m.ok and m.resumed == true and m.room_id == 9, "welcome with extra fields: %s" % str(m))
	m = decode([99, 1, 2])
	h.check(m.ok and m.get("unknown", false) and m.type == 99, "unknown type is skipped: %s" % str(m))
	var room = [7, false, 1, true, null, [3], [[4, "dora", {}, "extra"]], [[4, {"a": 1}, 0]], [[2, [10, -5], 1]], [[5, false, 0]], "more"]
	m = decode([40, 1234, 1700000000000, room, [[1233, 2, 5, "hit", "extra"]], [[1, 0, 1700000000000, "gg", 1]], [[2, 0, 1, mp.empty_bytes(), "extra"]], "extra"])
	h.check(m.ok, "frame with extra elements everywhere: %s" % str(m.error))
	if m.ok:
		h.check(m.room.presence == [[5, false, 0]] and m.room.locked == true and m.room.joins[0][1] == "dora", "frame fields")
		h.check(m.events[0][3] == "hit" and m.chat[0][3] == "gg", "events and chat")
		h.check(m.packets.size() == 1 and m.packets[0][0] == 2 and m.packets[0][2] == 1 and m.packets[0][3].size() == 0, "packets")
	m = decode([40, 1, 2, [7, true, 1, false, {}, [], [], [], []], [], []])
	h.check(m.ok and m.room.presence == null, "frame without presence")
	m = decode([40, 1, 2, null, [], []])
	h.check(m.ok and m.room == null, "frame in no room")


func test_malformed():
	var cases = [
		[], [null], ["x"], {"a": 1}, 5,
		[2, 1, "3", "tok", 60, 0, 5], [2, 1, 3, "tok", 60, 0], [2, 1, 3, "tok", 60, 0, 5, "no", 1],
		[3, 1, 2], [3, 1, 2, 3], [4, 1], [4, "x", "y"], [5], [5, "1"],
		[31, 1, 2, 3, "dm", 4], [31, 1, 2, "c", "dm"],
		[32, 1, [[1, "dm", 2, 3, false]]], [32, 1, [[1, "dm", 2, 3, 0, {}]]], [32, 1, "rooms"],
		[33, 1], [34, 1, 2, 3], [34, 1, 2, 3, 1.5],
		[40, 1, 2, null, [], []], # valid: a control case, removed below
		[40, 1, 2, null, [[1, 2, 3]], []], [40, 1, 2, null, [], [[1, 0, 3, 4]]],
		[40, 1, 2, null, [1], []], [40, 1, 2, [7, false, 1, false, {}, [], [], []], [], []],
		[40, 1, 2, [7, false, 1, false, {}, ["x"], [], [], []], [], []],
		[40, 1, 2, [7, false, 1, false, {}, [], [[4, 5, {}]], [], []], [], []],
		[40, 1, 2, [7, false, 1, false, {}, [], [[4, "d", 5]], [], []], [], []],
		[40, 1, 2, [7, false, 1, false, {}, [], [], [[4, 5]], []], [], []],
		[40, 1, 2, [7, false, 1, false, {}, [], [], [], [[4]]], [], []],
		[40, 1, 2, [7, false, 1, false, {}, [], [], [], [["4", 1]]], [], []],
		[40, 1, 2, [7, false, 1, false, {}, [], [], [], [], [[4, 1]]], [], []],
		[40, 1, 2, [7, 0, 1, false, {}, [], [], [], []], [], []],
		[40, 1, 2, [7, false, 1, false, [], [], [], [], []], [], []],
		[40, "1", 2, null, [], []], [40, 1, 2, null, [], []],
	]
	var valid = 0
	for v in cases:
		var m = decode(v)
		if m.ok:
			valid += 1
		else:
			h.check(m.error != "", "error without a message: %s" % str(v))
	# The two control cases above are valid frames.
	h.check(valid == 2, "%d of the malformed cases decoded (2 are controls)" % valid)
	# Garbage of every length must never be a script error.
	var rng = RandomNumberGenerator.new()
	rng.seed = 3
	var p = Protocol.new()
	for i in range(2000):
		var b = StreamPeerBuffer.new()
		var n = rng.randi_range(0, 40)
		b.put_u8(0x96)
		b.put_u8(0x28)
		for j in range(n):
			b.put_u8(rng.randi_range(0, 255))
		p.decode_server(b.data_array)
	h.check(true, "random garbage decoded without a script error")


func test_encode():
	var p = Protocol.new()
	var f = p.encode_state(Node)
	h.check(f.size() == 0 and p.error != "", "an Object cannot be a state: %s" % p.error)
	f = p.encode_state({"pos": Vector2(1, 2)})
	h.check(f.size() > 0 and p.error == "", "encode after an error works")
	var big = []
	for i in range(10000):
		big.append(i)
	f = p.encode_state(big)
	h.check(f.size() == 0 and p.error.find("limit") >= 0, "over the 16 KiB frame limit: %s" % p.error)
	f = p.encode_hello("ana", null)
	var body = h.slice(f, 4, f.size())
	h.check(mp.decode(body).value == [1, 1, "ana", null], "hello without extras")
	f = p.encode_hello("ana", null, "tok")
	h.check(mp.decode(h.slice(f, 4, f.size())).value == [1, 1, "ana", null, "tok", "", 0], "hello with an auth token")
	f = p.encode_ping(5)
	h.check(mp.decode(h.slice(f, 4, f.size())).value == [23, 5], "ping without acked tick")
	h.check(Protocol.code_name(25) == "rate_limited" and Protocol.code_name(27) == "replaced" and Protocol.code_name(99) == "code_99", "code names")


# Values of every msgpack form, for the structural skip and lazy states.
func odd_values():
	var big_map = {}
	for i in range(20):
		big_map["k%d" % i] = i * 1000
	var big_array = []
	for i in range(20):
		big_array.append(i - 10)
	var long_text = ""
	for i in range(40):
		long_text += "abcdefg"
	var bin = StreamPeerBuffer.new()
	for i in range(300):
		bin.put_u8(i & 0xff)
	return [0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 40, -1, -32, -33, -128, -129, -32768, -40000, -(1 << 40),
		1.5, -0.25, true, false, null, "", "short", long_text, bin.data_array,
		Vector2(1.5, -2), Vector3(1, 2, 3), Color(0.5, 0.25, 1, 1), [], {}, [1, [2, [3, {"a": [4]}]]],
		{"pos": [100.5, 200.25], "vel": [15.0, -3.5], "anim": 3, "hp": 100, "seq": 40000},
		{"a": 255, "b": 256, "c": 65535, "d": 65536, "p": Vector2(1.5, -2.25), "q": Vector3(1, 2, 3), "n": -1},
		big_map, big_array, {1: "int key", "n": null}]


func test_skip():
	var vals = odd_values()
	# A float32 and a fixext 1 the encoder does not write.
	var extra = StreamPeerBuffer.new()
	extra.big_endian = true
	extra.put_u8(0xca)
	extra.put_float(2.5)
	vals.append(extra.data_array)
	var bad = 0
	for i in range(vals.size()):
		var b = vals[i] if i == vals.size() - 1 else mp.encode(vals[i])
		mp.open(b, 0, b.size())
		mp.skip_at(0)
		var whole = mp.next
		var short = 0
		for n in range(b.size()):
			mp.open(b, 0, n)
			mp.skip_at(0)
			if mp.next != -1:
				short += 1
		mp.close()
		if whole != b.size() or short != 0:
			bad += 1
			h.check(false, "skip of %s: next %d of %d bytes, %d prefixes not refused" % [str(vals[i]), whole, b.size(), short])
	h.check(bad == 0, "skip steps over %d values of every form, refuses their prefixes" % vals.size())
	var c1 = h.bytes_of([0x91, 0xc1])
	mp.open(c1, 0, c1.size())
	mp.skip_at(0)
	h.check(mp.next == -1, "skip refuses 0xc1")
	var huge = h.bytes_of([0xdd, 0x7f, 0xff, 0xff, 0xff, 1, 2])
	mp.open(huge, 0, huge.size())
	mp.skip_at(0)
	h.check(mp.next == -1, "skip refuses a count over the bytes left")
	mp.close()


# The frame reader's states (its shortcut for [fixint id, fixmap] rows and
# the general case) against the generic decode of the same frame, for ids of
# every size and values of every form.
func test_state_rows():
	var vals = odd_values()
	var ids = [1, 127, 128, 255, 256, 65535, 65536, 1 << 33]
	var states = []
	for i in range(vals.size()):
		states.append([ids[i % ids.size()], vals[i]])
	var body = mp.encode([40, 99, 1700000000000, [7, false, 1, false, null, [], [], [], states], [], []])
	var p = Protocol.new()
	var m = p.decode_server(body)
	var g = p._frame(mp.decode(body).value)
	h.check(m.ok and g.ok, "state rows decode: %s %s" % [m.error, g.error])
	if m.ok and g.ok:
		h.check(str(m.room.states) == str(g.room.states), "frame reader states differ from the generic decode: %s" % str(m.room.states))
		h.check(m.room.states.size() == vals.size() and m.room.states[1][0] == 127 and m.room.states[7][0] == 1 << 33, "ids")
	# A fixext8 that is not a Vector2 inside a state's map: an error, as on
	# its own.
	var row = "96" + "28" + "63" + "01" + "99" + "07c201c2c0909090" + "91" + "92" + "05" + "81a178" + "d7%s" + "3fc00000c0100000" + "9090"
	m = p.decode_server(h.hex_to_bytes(row % "01"))
	h.check(m.ok and m.room.states == [[5, {"x": Vector2(1.5, -2.25)}]] or str(m.room.states) == str([[5, {"x": Vector2(1.5, -2.25)}]]), "a Vector2 in a state: %s" % str(m))
	h.check(not mp.decode(h.hex_to_bytes("d7023fc00000c0100000")).ok, "fixext8 of type 2 alone")
	m = p.decode_server(h.hex_to_bytes(row % "02"))
	h.check(not m.ok and m.error.find("Vector3") >= 0, "a fixext8 of type 2 in a state is an error: %s" % str(m))


func test_lazy_states():
	var vals = odd_values()
	var states = []
	for i in range(vals.size()):
		states.append([i + 1, vals[i]])
	var room = [7, false, 1, false, null, [], [], [], states, [[3, false]]]
	var body = mp.encode([40, 99, 1700000000000, room, [[98, 2, 5, "hit"]], []])
	var eager = Protocol.new()
	var lazy = Protocol.new()
	lazy.lazy_states = true
	var me = eager.decode_server(body)
	var ml = lazy.decode_server(body)
	h.check(me.ok and ml.ok, "lazy frame decodes: %s" % ml.error)
	if not (me.ok and ml.ok):
		return
	var bad = 0
	for i in range(states.size()):
		var raw = ml.room.states[i][1]
		var d = mp.decode(raw)
		if ml.room.states[i][0] != i + 1 or typeof(raw) != typeof(body) or not d.ok or str(d.value) != str(me.room.states[i][1]):
			bad += 1
			h.check(false, "lazy state %d: %s" % [i, str(raw)])
	h.check(bad == 0, "lazy states are the bytes of the %d values" % states.size())
	h.check(ml.tick == 99 and ml.room.presence == [[3, false]] and ml.events == [[98, 2, 5, "hit"]], "lazy frame: other fields as eager")
	# A row the frame reader does not take (an extra element) goes the generic
	# way: its value is bytes too.
	body = mp.encode([40, 99, 1, [7, false, 1, false, null, [], [], [], [[4, {"a": 1}, "extra"]]], [], []])
	ml = lazy.decode_server(body)
	h.check(ml.ok and typeof(ml.room.states[0][1]) == typeof(body) and str(mp.decode(ml.room.states[0][1]).value) == str({"a": 1}), "lazy state by the generic path: %s" % str(ml))
	# Truncated frames: errors in both modes, never a partial result.
	var full = mp.encode([40, 99, 1700000000000, room, [], []])
	var same = 0
	for n in range(1, full.size()):
		var cut = h.slice(full, 0, n)
		if not eager.decode_server(cut).ok and not lazy.decode_server(cut).ok:
			same += 1
	h.check(same == full.size() - 1, "every truncation is an error in both modes (%d of %d)" % [same, full.size() - 1])


# The meeting place's server messages, lobby chat lines and peer packets:
# well-formed ones decode, wrong shapes are errors (not fatal), extra
# elements are skipped.
func test_meeting_messages():
	var m = decode([35, "restart", 1700000000000, "extra"])
	h.check(m.ok and m.text == "restart" and m.server_time_ms == 1700000000000, "announce: %s" % str(m))
	m = decode([36, 3, 7, 1, "eu", 420])
	h.check(m.ok and m.outcome == Protocol.MATCH_BACKFILL and m.room_id == 7 and m.team == 1 and m.region == "eu" and m.waited_ms == 420, "match: %s" % str(m))
	m = decode([37, 3, "K7XQ2M", 1, [[1, "ana"], [2, "bo", "extra"]]])
	h.check(m.ok and m.party_id == 3 and m.code == "K7XQ2M" and m.leader == 1 and m.members.size() == 2 and m.members[1][1] == "bo", "party: %s" % str(m))
	m = decode([38, 6, "global", 120, [[1, "ana"]], [[2, "bo", 1000, "hi"]]])
	h.check(m.ok and m.rid == 6 and m.name == "global" and m.count == 120 and m.history[0][3] == "hi", "channel: %s" % str(m))
	m = decode([39, 3, 2, "b.example.com:7777", "", "tok"])
	h.check(m.ok and m.rid == 3 and m.kcp_addr == "b.example.com:7777" and m.ws_url == "" and m.token == "tok", "redirect: %s" % str(m))
	var bad = [
		[35, 1, 2], [35, "x"], [36, 0, 7, 1, 2, 3], [36, 0, 7, "1", "eu", 3], [36, 0],
		[37, 1, "c", 1, [[1]]], [37, 1, "c", 1, [["1", "a"]]], [37, 1, "c", 1, [[1, 2]]], [37, 1, "c", 1, null],
		[38, 6, "g", 2, [], [[2, "bo", 1000]]], [38, 6, "g", 2, [], [[2, "bo", "t", "hi"]]], [38, 6, "g", 2, []],
		[39, 3, 2, "a", "b"], [39, 3, 2, "a", 5, "t"],
		[40, 1, 2, null, [], [[1, 0, 3, "t", 5, "ana"]]], [40, 1, 2, null, [], [[1, 0, 3, "t", "g", null]]],
		[40, 1, 2, null, [], [], [[1, 0, 0, "not bytes"]]], [40, 1, 2, null, [], [], [[1, 0, 0]]], [40, 1, 2, null, [], [], 5],
	]
	for v in bad:
		m = decode(v)
		h.check(not m.ok and not m.fatal, "refused: %s -> %s" % [str(v), str(m)])
	# A lobby chat line through the frame reader (encoded as the relay does).
	m = decode([40, 9, 1000, null, [], [[1, 0, 1000, "gl hf", "global", "ana"]]])
	h.check(m.ok and m.chat[0][4] == "global" and m.chat[0][5] == "ana" and m.packets.size() == 0, "lobby chat line: %s" % str(m))
	var p = Protocol.new()
	var f = p.encode_peer_packet(-3, Protocol.PEER_UNRELIABLE, 1, h.hex_to_bytes("dead"))
	h.check(p.error == "" and f == h.hex_to_bytes("0000000995 3cfd0101c402dead".replace(" ", "")), "peer_packet bytes")
	f = p.encode_queue_join(1, "m", null, 1500, null)
	var r = mp.decode(h.slice(f, 4, f.size()))
	h.check(r.ok and typeof(r.value[4]) == typeof(1.5) and r.value[4] == 1500.0, "queue_join's skill is a float")
