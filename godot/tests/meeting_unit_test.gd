# client.gd's meeting place (meeting.gd) and redirects (redirect.gd), fed
# with server messages directly (no relay): the requests' bytes, the
# matchmaker's match messages, parties, lobby channels and their lines,
# announcements, peer packets in frames, and following a redirect to
# another node over the same transport (KCP on Godot 3, WebSocket on 4).
#
#   godot3-server --no-window --path PROJECT -s res://tests/meeting_unit_test.gd
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")
const FakeLink = preload("res://tests/fake_link.gd")

const SIGNALS1 = ["connected", "redirected", "request_ok", "room_left", "announcement", "match_found", "match_ended", "party_changed", "channel_joined"]
const SIGNALS2 = ["disconnected", "room_joined", "channel_members_received"]
const SIGNALS3 = ["error"]
const SIGNALS4 = ["chat_received", "channel_message", "peer_packet_received"]

var h
var mp
var log_ = []


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	test_requests()
	test_match_and_party()
	test_channels()
	test_packets()
	test_redirect()
	test_redirect_refused()
	test_match_redirect()
	test_match_seat_refused()
	h.finish(self)


func watch(c):
	for s in SIGNALS1:
		h.connect_signal(c, s, self, "_r1", [s])
	for s in SIGNALS2:
		h.connect_signal(c, s, self, "_r2", [s])
	for s in SIGNALS3:
		h.connect_signal(c, s, self, "_r3", [s])
	for s in SIGNALS4:
		h.connect_signal(c, s, self, "_r4", [s])


func _r1(a, s):
	log_.append("%s%s" % [s, h.render([a])])


func _r2(a, b, s):
	log_.append("%s%s" % [s, h.render([a, b])])


func _r3(a, b, c, s):
	log_.append("%s%s" % [s, h.render([a, b, c])])


func _r4(a, b, c, d, s):
	if typeof(d) == typeof(mp.empty_bytes()):
		var x = "bin:"
		for byte in d:
			x += "%02x" % byte
		d = x
	log_.append("%s%s" % [s, h.render([a, b, c, d])])


func feed(c, v):
	var p = Protocol.new()
	var m = p.decode_server(mp.encode(v))
	h.check(m.ok, "test message is malformed: %s %s" % [str(v), m.error])
	log_ = []
	c._handle(m, 1000000)
	return log_


# A connected client whose link records what it is given.
func connected_client():
	var c = Client.new()
	watch(c)
	c._opts = Client.DEFAULT_OPTIONS.duplicate()
	c._link = FakeLink.new()
	c.status = Client.STATUS_CONNECTING
	feed(c, [2, 1, 2, "tok", 30, 1700000000000, 100])
	return c


# The message bodies sent, decoded.
func sent(c):
	var out = []
	for f in c._link.sent:
		var r = mp.decode(h.slice(f, 4, f.size()))
		out.append(r.value if r.ok else "bad")
	c._link.sent = []
	return out


func test_requests():
	var c = connected_client()
	var r1 = c.queue_join("2v2", ["eu"], 1500, {"map": "dust"})
	var r2 = c.queue_leave()
	var r3 = c.request_backfill([1, 0])
	var r4 = c.create_party()
	var r5 = c.join_party("K7XQ2M")
	var r6 = c.leave_party()
	var r7 = c.join_channel("global")
	var r8 = c.leave_channel("global")
	var r9 = c.channel_members("global")
	h.check(c.say("global", "gl hf") == true, "say queued")
	h.check(c.send_peer_packet(-3, Protocol.PEER_UNRELIABLE, 1, h.hex_to_bytes("dead")) == true, "peer packet queued")
	h.check([r1, r2, r3, r4, r5, r6, r7, r8, r9] == [1, 2, 3, 4, 5, 6, 7, 8, 9], "request ids")
	var got = sent(c)
	var want = [[50, 1, "2v2", ["eu"], 1500.0, {"map": "dust"}], [51, 2], [52, 3, [1, 0]], [53, 4], [54, 5, "K7XQ2M"], [55, 6],
		[56, 7, "global"], [57, 8, "global"], [59, 9, "global"], [58, "global", "gl hf"], [60, -3, 1, 1, h.hex_to_bytes("dead")]]
	h.check(h.render(got) == h.render(want), "requests sent:\n  got  %s\n  want %s" % [h.render(got), h.render(want)])
	var long_line = ""
	for i in range(300):
		long_line += "x"
	h.check(c.say("global", long_line) == false, "a line over the limit is refused")
	h.check(c._link.sent.size() == 0, "and not sent")
	# The relay answers: queued, then not.
	feed(c, [5, 1])
	h.check(c.meeting.queued, "queued after queue_join's ok")
	feed(c, [5, 2])
	h.check(not c.meeting.queued, "not queued after queue_leave's ok")
	got = feed(c, [3, 7, 10, "too many channels"])
	h.check(got == ["error[7, 10, too many channels]"] and not c.meeting.channels.has("global"), "a refused channel join: %s" % str(got))


func test_match_and_party():
	var c = connected_client()
	c.queue_join("duel")
	feed(c, [5, 1])
	# A match: the relay sends the match message, then seats the player
	# (room_joined with rid 0); the game sees room_joined, then match_found.
	var got = feed(c, [36, 0, 7, 1, "eu", 4200])
	h.check(got == [], "the match waits for its room: %s" % str(got))
	h.check(not c.meeting.queued and c.meeting.last_match.team == 1, "the ticket is over")
	got = feed(c, [31, 0, 7, "ABCDEF", "duel", 2])
	h.check(got == ["room_joined[7, ABCDEF]", "match_found[{outcome:0, room_id:7, team:1, region:eu, waited_ms:4200}]"], "seated, then the match: %s" % str(got))
	# Already in the match's room (no such order from the relay, but
	# nothing to wait for): at once.
	got = feed(c, [36, 0, 7, 1, "eu", 4300])
	h.check(got.size() == 1 and got[0].begins_with("match_found[{outcome:0, room_id:7"), "in the room already: %s" % str(got))
	got = feed(c, [36, 1, 0, 0, "", 60000])
	h.check(got == ["match_ended[1]"], "timed out: %s" % str(got))
	got = feed(c, [36, 2, 0, 0, "", 100])
	h.check(got == ["match_ended[2]"], "cancelled: %s" % str(got))
	got = feed(c, [36, 3, 9, 0, "eu", 10])
	h.check(got == [], "a backfill waits for its room: %s" % str(got))
	got = feed(c, [31, 0, 9, "GHJKLM", "duel", 2])
	h.check(got.size() == 2 and got[0] == "room_joined[9, GHJKLM]" and got[1].begins_with("match_found[{outcome:3, room_id:9"), "backfill: %s" % str(got))
	got = feed(c, [37, 3, "K7XQ2M", 2, [[2, "me"], [5, "bo"]]])
	h.check(got == ["party_changed[{party_id:3, code:K7XQ2M, leader:2, members:[[2, me], [5, bo]]}]"], "party: %s" % str(got))
	h.check(c.get_party().code == "K7XQ2M" and c.get_party().members.size() == 2, "get_party()")
	got = feed(c, [37, 0, "", 0, []])
	h.check(got.size() == 1 and c.get_party().party_id == 0, "no party: %s" % str(got))
	got = feed(c, [35, "restart at 18:00", 1700000000000])
	h.check(got == ["announcement[restart at 18:00]"], "announcement: %s" % str(got))


func test_channels():
	var c = connected_client()
	var rid = c.join_channel("global")
	var got = feed(c, [38, rid, "global", 2, [[1, "ana"], [2, "me"]], [[1, "ana", 1000, "hi"]]])
	h.check(got == ["channel_joined[{name:global, count:2, members:[[1, ana], [2, me]], history:[[1, ana, 1000, hi]]}]"], "joined: %s" % str(got))
	h.check(c.meeting.channels.has("global") and c.meeting.channels["global"].count == 2, "channel kept")
	rid = c.channel_members("global")
	got = feed(c, [38, rid, "global", 3, [[1, "ana"], [2, "me"], [4, "cy"]], []])
	h.check(got.size() == 1 and got[0].begins_with("channel_members_received[%d, {name:global, count:3" % rid), "members: %s" % str(got))
	h.check(c.meeting.channels["global"].count == 3, "count updated")
	# Lobby lines arrive in frames (in no room), room chat as before.
	got = feed(c, [40, 101, 1000, null, [], [[1, 0, 1000, "gl hf", "global", "ana"], [4, 2, 1000, "psst"]]])
	h.check(got == ["channel_message[global, 1, ana, gl hf]", "chat_received[4, 2, psst, 1000]"], "lines: %s" % str(got))
	rid = c.leave_channel("global")
	feed(c, [5, rid])
	h.check(not c.meeting.channels.has("global"), "left the channel")


func test_packets():
	var c = connected_client()
	feed(c, [31, 1, 7, "ABCDEF", "dm", 8])
	var got = feed(c, [40, 101, 1000, [7, true, 1, false, {}, [], [[1, "ana", {}], [2, "me", {}]], [], []], [], [],
		[[1, 0, 0, h.hex_to_bytes("0102")], [1, 1, 3, mp.empty_bytes()]]])
	h.check(got == ["peer_packet_received[1, 0, 0, bin:0102]", "peer_packet_received[1, 1, 3, bin:]"], "packets: %s" % str(got))


# A redirect: bye on this link, a fresh hello to the named node over the
# same transport, join_seat with the request's id; the welcome there emits
# no second connected, and the seat's room_joined answers the request.
func test_redirect():
	var c = connected_client()
	var godot4 = Engine.get_version_info()["major"] >= 4
	var old = c._link
	if godot4:
		c._url = "ws://127.0.0.1:9/"
	else:
		c._ip = "127.0.0.1"
		c._port = 9
	var rid = c.join_by_code("ABCDEF")
	old.sent = []
	var got = feed(c, [39, rid, 2, "127.0.0.1:10", "ws://127.0.0.1:10/", "seat-1"])
	h.check(got == [], "no signal for the redirect: %s" % str(got))
	h.check(old.closed and old.sent.size() == 1 and mp.decode(h.slice(old.sent[0], 4, old.sent[0].size())).value == [24], "bye on the old link")
	h.check(c._link != old and c._link != null, "a new link")
	if c._link == null or c._link == old:
		return
	var want = "ws://127.0.0.1:10/" if godot4 else "udp://127.0.0.1:10 (KCP)"
	h.check(c._link.describe() == want, "the new link goes to %s, want %s" % [c._link.describe(), want])
	h.check(c.status == Client.STATUS_CONNECTING, "connecting to the other node")
	if godot4:
		var bodies = []
		for b in c._link.queue:
			bodies.append(mp.decode(b).value)
		h.check(bodies.size() == 2 and bodies[0][0] == 1 and bodies[0].size() == 4 and h.render(bodies[1]) == h.render([61, rid, "seat-1"]), "hello and join_seat: %s" % h.render(bodies))
	c._link.close()
	c._link = FakeLink.new()
	got = feed(c, [2, 1, 17, "tok2", 30, 1700000000000, 500])
	h.check(got == ["redirected[17]"], "redirected, not a second connected: %s" % str(got))
	h.check(c.player_id == 17 and c.resume_token == "tok2" and c.status == Client.STATUS_CONNECTED, "the new node's player")
	got = feed(c, [31, rid, 3, "ABCDEF", "dm", 8])
	h.check(got == ["room_joined[3, ABCDEF]"], "the seat answers the request: %s" % str(got))


func test_redirect_refused():
	var c = connected_client()
	c._url = "ws://127.0.0.1:9/"
	var got = feed(c, [39, 4, 2, "127.0.0.1:10", "", "seat-1"])
	h.check(got.size() == 1 and got[0].begins_with("error[4, 1, the relay redirected to a node without a WebSocket URL"), "no WebSocket URL: %s" % str(got))
	h.check(c.status == Client.STATUS_CONNECTED and not c._link.closed, "still on this node")
	c._url = ""
	got = feed(c, [39, 5, 2, "no-port", "", "seat-1"])
	h.check(got.size() == 1 and got[0].begins_with("error[5, 1, cannot reach"), "bad address: %s" % str(got))


# Follows the redirect a client gets after a match message (rid 0) in
# place of the real link (which connect_to_server() would have opened),
# and returns the signals of the redirect.
func follow_match_redirect(c):
	if Engine.get_version_info()["major"] >= 4:
		c._url = "ws://127.0.0.1:9/"
	else:
		c._ip = "127.0.0.1"
		c._port = 9
	var got = feed(c, [39, 0, 2, "127.0.0.1:10", "ws://127.0.0.1:10/", "seat-m"])
	if c._link != null:
		c._link.close()
	c._link = FakeLink.new()
	return got


# A match hosted on another node of a cluster: the match message, then a
# redirect with rid 0. The party and channels stay on the old node
# (party_changed to none), the match is kept for its room, and the game
# sees redirected, room_joined, then match_found on the new node.
func test_match_redirect():
	var c = connected_client()
	c.queue_join("duel")
	c.join_channel("global")
	feed(c, [5, 1])
	feed(c, [38, 2, "global", 1, [[1, "me"]], []])
	feed(c, [37, 3, "K7XQ2M", 1, [[1, "me"], [5, "bo"]]])
	var room = 0x02000004
	var got = feed(c, [36, 0, room, 1, "eu", 300])
	h.check(got == [], "the match waits for its room: %s" % str(got))
	got = follow_match_redirect(c)
	h.check(got == ["party_changed[{party_id:0, code:, leader:0, members:[]}]"], "the party stayed on the old node: %s" % str(got))
	h.check(c.meeting.channels.size() == 0 and c.meeting.last_match.room_id == room, "no channels; the match kept: %s" % str(c.meeting.last_match))
	h.check(c._seat_rid == 0 and c.status == Client.STATUS_CONNECTING, "taking the match's seat")
	got = feed(c, [2, 1, 0x02000009, "tok2", 30, 1700000000000, 500])
	h.check(got == ["redirected[%d]" % 0x02000009], "redirected: %s" % str(got))
	got = feed(c, [31, 0, room, "QWERTY", "duel", 2])
	h.check(got == ["room_joined[%d, QWERTY]" % room, "match_found[{outcome:0, room_id:%d, team:1, region:eu, waited_ms:300}]" % room], "room_joined, then match_found: %s" % str(got))
	h.check(c._seat_rid == -1 and c._redirects == 0, "the redirect is over")


# The seat of a match on another node refused (it expired): the error,
# then match_ended (cancelled); the next redirect counts from zero.
func test_match_seat_refused():
	var c = connected_client()
	c.queue_join("duel")
	feed(c, [5, 1])
	feed(c, [36, 0, 0x02000004, 1, "eu", 300])
	follow_match_redirect(c)
	feed(c, [2, 1, 0x02000009, "tok2", 30, 1700000000000, 500])
	var got = feed(c, [3, 0, 24, "the seat expired"])
	h.check(got == ["error[0, 24, the seat expired]", "match_ended[2]"], "the seat refused: %s" % str(got))
	h.check(c._seat_rid == -1 and c._redirects == 0, "no redirect under way: %d %d" % [c._seat_rid, c._redirects])
	# An error with rid 0 for something else (an event) ends nothing.
	got = feed(c, [3, 0, 9, "too large"])
	h.check(got == ["error[0, 9, too large]"], "an event's error: %s" % str(got))
