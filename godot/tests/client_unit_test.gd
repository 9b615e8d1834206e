# client.gd's room view and signals, fed with server messages directly (no
# network): full and delta frames, leave-and-rejoin in one frame, master and
# lock changes, presence, a resync full frame, room_left, requests while not
# connected, handlers that disconnect in the middle of a frame, the resume
# bookkeeping (acked tick, resumed welcome, refusals, presence in full
# frames, queueing while reconnecting), and the signal forwarding that
# relay_node.gd uses.
#
#   godot3-server --no-window --path PROJECT -s res://tests/client_unit_test.gd
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Resume = preload("res://addons/tickrelay/resume.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")
const Interpolation = preload("res://addons/tickrelay/interpolation.gd")
const KcpLink = preload("res://addons/tickrelay/kcp_link.gd")

const SIGNALS0 = ["reconnected"]
const SIGNALS1 = ["connected", "request_ok", "room_left", "player_left", "master_changed", "locked_changed", "room_props_changed", "pong"]
const SIGNALS2 = ["disconnected", "reconnecting", "room_joined", "room_list", "player_props_changed", "player_presence_changed"]
const SIGNALS3 = ["error", "player_joined", "state_received"]
const SIGNALS4 = ["event_received", "chat_received"]

var h
var mp
var log_ = []
var disconnect_on = ""


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	test_room_view()
	test_not_connected()
	test_reentrant_disconnect()
	test_resume()
	test_resume_refused()
	test_state_pacing()
	test_poll_sends()
	test_forwarding()
	h.finish(self)


func watch(c):
	for s in SIGNALS0:
		h.connect_signal(c, s, self, "_r0", [s])
	for s in SIGNALS1:
		h.connect_signal(c, s, self, "_r1", [s])
	for s in SIGNALS2:
		h.connect_signal(c, s, self, "_r2", [s])
	for s in SIGNALS3:
		h.connect_signal(c, s, self, "_r3", [s])
	for s in SIGNALS4:
		h.connect_signal(c, s, self, "_r4", [s])


func record(s, args, c):
	log_.append("%s%s" % [s, h.render(args)])
	if s == disconnect_on:
		c.disconnect_from_server()


func _r0(s):
	record(s, [], current)


func _r1(a, s):
	record(s, [a], current)


func _r2(a, b, s):
	record(s, [a, b], current)


func _r3(a, b, c, s):
	record(s, [a, b, c], current)


func _r4(a, b, c, d, s):
	record(s, [a, b, c, d], current)


var current


# Feeds one server message, given as its decoded array, to client c.
func feed(c, v):
	var p = Protocol.new()
	var m = p.decode_server(mp.encode(v))
	h.check(m.ok, "test message is malformed: %s %s" % [str(v), m.error])
	log_ = []
	c._handle(m, 1000000)
	return log_


func full_room(room_id, master_id, players, states):
	return [room_id, true, master_id, false, {"map": "dust"}, [], players, [], states]


func test_room_view():
	var c = Client.new()
	current = c
	var interp = Interpolation.new()
	c.interpolator = interp
	watch(c)
	c.status = Client.STATUS_CONNECTING
	c._opts = Client.DEFAULT_OPTIONS.duplicate()
	fake_link(c, 7)
	h.check(c._link.kcp.rx_minrto == 30, "KCP's own lower bound before the welcome: %d" % c._link.kcp.rx_minrto)
	var got = feed(c, [2, 1, 2, "tok", 30, 1700000000000, 100])
	h.check(got == ["connected[2]"], "welcome: %s" % str(got))
	h.check(c.status == Client.STATUS_CONNECTED and c.player_id == 2 and c.tick_rate == 30 and c.server_tick == 100, "welcome fields")
	# The relay holds its acks up to a tick: the resend bound covers it.
	h.check(c._link.kcp.rx_minrto == 63, "resend bound after the welcome: %d" % c._link.kcp.rx_minrto)
	got = feed(c, [31, 1, 7, "ABCDEF", "dm", 8])
	h.check(got == ["room_joined[7, ABCDEF]"], "room_joined: %s" % str(got))
	h.check(c.room_id == 7 and c.room_code == "ABCDEF" and c.room_mode == "dm" and c.room_max_players == 8 and c.players.size() == 0, "room_joined view")
	got = feed(c, [40, 101, 1700000000033, full_room(7, 1, [[1, "ana", {"team": "red"}], [2, "me", null]], [[1, [1, 2]]]),
		[[101, 1, 5, "hi"]], [[1, 0, 1700000000033, "gg"]]])
	h.check(got == ["player_joined[1, ana, {team:red}]", "player_joined[2, me, {}]", "master_changed[1]",
		"room_props_changed[{map:dust}]", "state_received[1, [1, 2], 101]", "event_received[1, 5, hi, 101]",
		"chat_received[1, 0, gg, 1700000000033]"], "full frame: %s" % str(got))
	h.check(c.players.size() == 2 and c.players[1].name == "ana" and c.players[1].state == [1, 2] and c.players[1].state_tick == 101, "players after the full frame")
	h.check(c.players[2].state == null and c.players[2].connected == true, "own entry")
	h.check(interp.latest(1) == [1, 2], "interpolator got the state")
	# Delta: ana leaves and joins again in one frame (leaves apply first),
	# props, lock, presence, state.
	got = feed(c, [40, 102, 1700000000066, [7, false, 2, true, null, [1, 9], [[1, "ana2", {}], [3, "bob", {}]],
		[[2, {"ready": true}]], [[3, 7]], [[3, false]]], [], []])
	h.check(got == ["player_left[1]", "player_joined[1, ana2, {}]", "player_joined[3, bob, {}]",
		"player_props_changed[2, {ready:True}]", "master_changed[2]", "locked_changed[True]",
		"player_presence_changed[3, False]", "state_received[3, 7, 102]"], "delta frame: %s" % str(got))
	h.check(c.players[1].name == "ana2" and c.players[1].state == null, "rejoined player starts fresh")
	h.check(interp.latest(1) == null, "interpolator forgot the leaver")
	h.check(c.master_id == 2 and c.locked and c.room_props.get("map") == "dust", "master, lock, props kept")
	h.check(c.players[3].connected == false, "presence")
	# An idle frame changes nothing and says nothing.
	got = feed(c, [40, 103, 1700000000100, [7, false, 2, true, null, [], [], [], []], [], []])
	h.check(got == [], "idle frame: %s" % str(got))
	h.check(c.server_tick == 103, "server tick")
	# Room props replaced (not merged).
	got = feed(c, [40, 104, 1700000000133, [7, false, 2, true, {"round": 2}, [], [], [], []], [], []])
	h.check(got == ["room_props_changed[{round:2}]"] and not c.room_props.has("map"), "props replaced: %s" % str(got))
	# A resync full frame: bob is gone, dora is new, ana2 stays.
	got = feed(c, [40, 110, 1700000000333, [7, true, 2, true, {"round": 3}, [], [[1, "ana2", {}], [2, "me", {"ready": true}], [4, "dora", {}]], [], [[4, 1]]], [], []])
	h.check(got == ["player_left[3]", "player_props_changed[1, {}]", "player_props_changed[2, {ready:True}]",
		"player_joined[4, dora, {}]", "room_props_changed[{round:3}]", "state_received[4, 1, 110]"], "resync: %s" % str(got))
	h.check(c.players.size() == 3 and not c.players.has(3), "players after the resync")
	# Replies.
	got = feed(c, [5, 12])
	h.check(got == ["request_ok[12]"], "ok: %s" % str(got))
	got = feed(c, [3, 13, 7, "only the master"])
	h.check(got == ["error[13, 7, only the master]"], "error: %s" % str(got))
	got = feed(c, [32, 14, [[7, "dm", 3, 8, true, {"map": 2}], [8, "ctf", 1, 4, false, null]]])
	h.check(got.size() == 1 and got[0].begins_with("room_list[14, [{"), "room_list: %s" % str(got))
	# Kicked.
	got = feed(c, [33, 0, 19])
	h.check(got == ["room_left[19]"], "room_left: %s" % str(got))
	h.check(c.room_id == 0 and c.players.size() == 0 and c.master_id == 0 and interp.player_ids().size() == 0, "view cleared")
	# Chat outside a room.
	got = feed(c, [40, 120, 1700000000999, null, [], [[4, 2, 1700000000999, "psst"]]])
	h.check(got == ["chat_received[4, 2, psst, 1700000000999]"], "direct message in no room: %s" % str(got))
	# The server closes.
	got = feed(c, [4, 11, "the server is shutting down"])
	h.check(got == ["disconnected[11, the server is shutting down]"], "close: %s" % str(got))
	h.check(c.status == Client.STATUS_DISCONNECTED, "disconnected")
	# A malformed message ends the connection with a protocol error.
	c.status = Client.STATUS_CONNECTED
	var p = Protocol.new()
	log_ = []
	c._handle(p.decode_server(mp.encode([40, 1, 2, [7, false], [], []])), 0)
	h.check(log_.size() == 1 and log_[0].begins_with("disconnected[-3, bad message"), "malformed: %s" % str(log_))


func test_not_connected():
	var c = Client.new()
	current = c
	watch(c)
	log_ = []
	var rid = c.create_room({"mode": "dm"})
	h.check(rid == 1, "first request id is 1")
	h.check(c.join_by_code("ABCDEF") == 2, "request ids count up")
	h.check(c.send_event(0, 1, "x") == false and c.chat("hi") == false, "fire-and-forget refused")
	h.check(log_.size() == 0, "no signal inside the call: %s" % str(log_))
	c.poll()
	h.check(log_ == ["error[1, -10, not connected]", "error[2, -10, not connected]", "error[0, -10, event: not connected]",
		"error[0, -10, chat: not connected]"], "errors on the next poll: %s" % str(log_))
	log_ = []
	c.poll()
	h.check(log_.size() == 0, "errors emitted once")
	h.check(Client.code_name(-10) == "not_sent" and Client.code_name(-2) == "link_lost" and Client.code_name(4) == "room_full", "code names")
	h.check(c.connect_to_server("127.0.0.1", 9, {"props": {"node": Node}}) == ERR_INVALID_PARAMETER, "props that cannot be encoded")
	h.check(c.status == Client.STATUS_DISCONNECTED and not c.is_socket_open(), "no connection after a refused hello")
	# Connecting to a port where nothing listens times out.
	h.check(c.connect_to_server("127.0.0.1", 9, {"timeout_ms": 300}) == OK, "connect")
	h.check(c.connect_to_server("127.0.0.1", 9) == ERR_ALREADY_IN_USE, "second connect refused")
	# Requests made while connecting follow the hello.
	c.join_or_create("dm")
	h.check(c.chat("early") == true, "chat while connecting is queued")
	h.check(c.stats["messages_out"] == 2, "requests while connecting are sent: %s" % str(c.stats))
	var deadline = h.now_msec() + 3000
	while c.status != Client.STATUS_DISCONNECTED and h.now_msec() < deadline:
		c.poll()
		OS.delay_msec(5)
	h.check(log_.size() == 1 and log_[0].begins_with("disconnected[-1, no welcome"), "timeout: %s" % str(log_))
	h.check(not c.is_socket_open(), "socket closed")


# A handler that disconnects in the middle of a frame stops the rest of it.
func test_reentrant_disconnect():
	var c = Client.new()
	current = c
	watch(c)
	c.status = Client.STATUS_CONNECTING
	feed(c, [2, 1, 2, "tok", 30, 1700000000000, 100])
	h.check(c.connect_to_server("127.0.0.1", 9) == ERR_ALREADY_IN_USE, "connected")
	c._opts = Client.DEFAULT_OPTIONS
	fake_link(c, 0)
	feed(c, [31, 1, 7, "ABCDEF", "dm", 8])
	disconnect_on = "player_joined"
	var got = feed(c, [40, 101, 1700000000033, full_room(7, 1, [[1, "ana", {}], [2, "me", {}]], []), [[101, 1, 5, "hi"]], []])
	disconnect_on = ""
	h.check(got == ["player_joined[1, ana, {}]", "disconnected[22, disconnected by the client]"], "stopped after the disconnect: %s" % str(got))
	h.check(c.status == Client.STATUS_DISCONNECTED and c.players.size() == 0, "view cleared")


# A client that was welcomed and is in room 7 with ana (1) and itself (2).
func welcomed_in_room(c):
	c._opts = Client.DEFAULT_OPTIONS.duplicate()
	c.status = Client.STATUS_CONNECTING
	feed(c, [2, 1, 2, "tok1", 30, 1700000000000, 100])
	feed(c, [31, 1, 7, "ABCDEF", "dm", 8])
	feed(c, [40, 101, 1700000000033, full_room(7, 1, [[1, "ana", {}], [2, "me", {}]], [[1, "s1"]]), [], []])


# Resume bookkeeping, without a network: the acked tick, a resumed welcome
# and the full frame after it, presence in full frames, queueing.
func test_resume():
	var c = Client.new()
	current = c
	watch(c)
	h.check(c.resume_now() == ERR_UNAVAILABLE, "nothing to resume before connecting")
	welcomed_in_room(c)
	h.check(c._acked_tick == 101, "acked tick after a frame: %d" % c._acked_tick)
	h.check(c.resume_now() == OK and c.is_connected_to_server(), "resume_now() waits for the next poll")
	c._resume_pending = false
	# A frame cut short by a handler that disconnects is not acknowledged.
	var d = Client.new()
	current = d
	watch(d)
	welcomed_in_room(d)
	fake_link(d, 0)
	disconnect_on = "event_received"
	feed(d, [40, 102, 1700000000066, [7, false, 1, false, null, [], [], [], []], [[102, 1, 5, "a"], [102, 1, 5, "b"]], []])
	disconnect_on = ""
	h.check(d._acked_tick == 101, "a frame whose handling stopped is not acknowledged: %d" % d._acked_tick)
	current = c
	# ana goes away.
	var got = feed(c, [40, 103, 1700000000100, [7, false, 1, false, null, [], [], [], [], [[1, false]]], [], []])
	h.check(got == ["player_presence_changed[1, False]"] and not c.players[1].connected, "away: %s" % str(got))
	# The link is lost (as poll() does it, without a socket to open).
	c.set_state("mine")
	c._state_dirty = false
	c._opts["resume_timeout_ms"] = 60000
	log_ = []
	Resume.begin(c, Client.DISCONNECT_LINK_LOST, "test", c.now_ms())
	h.check(log_ == ["reconnecting[-2, test]"], "reconnecting: %s" % str(log_))
	h.check(c.status == Client.STATUS_RECONNECTING and c.is_reconnecting() and not c.is_connected_to_server(), "status")
	h.check(c.players.size() == 2 and c.room_id == 7, "the room view stays")
	# Messages while reconnecting are queued for the next attempt.
	h.check(c.send_event(0, 9, "x") and c.chat("hi") and c._resume_queue.size() == 2, "queued: %d" % c._resume_queue.size())
	c._opts["max_queued_while_resuming"] = 2
	h.check(not c.chat("one too many"), "queue limit")
	c._opts["max_queued_while_resuming"] = 1024
	log_ = []
	c.poll()  # emits the refusal; no socket could be opened, so nothing else
	h.check(log_.size() == 1 and log_[0].begins_with("error[0, -10, chat: too many"), "refusal: %s" % str(log_))
	# The resumed welcome, then the full frame: ana is back, bob left meanwhile
	# (he was never seen), events come once.
	got = feed(c, [2, 1, 2, "tok2", 30, 1700000001000, 130, true, 7])
	h.check(got == ["reconnected[]"], "resumed welcome: %s" % str(got))
	h.check(c.status == Client.STATUS_CONNECTED and c.player_id == 2 and c.resume_token == "tok2" and c._resume_queue.size() == 0, "after the welcome")
	h.check(c._state_dirty, "the latest state is sent again")
	got = feed(c, [40, 131, 1700000001033, full_room(7, 1, [[1, "ana", {}], [2, "me", {}]], [[1, "s2"]]), [[120, 1, 5, "missed"]], []])
	h.check(got == ["player_props_changed[1, {}]", "player_props_changed[2, {}]", "room_props_changed[{map:dust}]",
		"player_presence_changed[1, True]", "state_received[1, s2, 131]", "event_received[1, 5, missed, 120]"], "full frame after the resume: %s" % str(got))
	h.check(c._acked_tick == 131 and c.players[1].connected, "after the full frame")
	# A full frame lists the members that are away.
	got = feed(c, [40, 140, 1700000001300, [7, true, 1, false, {"map": "dust"}, [], [[1, "ana", {}], [2, "me", {}]], [], [], [[1, false]]], [], []])
	h.check(got.has("player_presence_changed[1, False]") and not c.players[1].connected, "away in a full frame: %s" % str(got))


# Gives client c a KCP link with conversation conv (0: random) on a FakeUDP
# instead of a socket, as connect_to_server() would open it; returns the
# FakeUDP.
func fake_link(c, conv):
	var link = KcpLink.new(c._proto, "127.0.0.1", 9, c._opts, conv)
	link.stats = c.stats
	link.new_kcp(conv)
	link.udp = FakeUDP.new()
	c._link = link
	return link.udp


# Stands in for the link: records what the client sends.
class SendRecorder:
	var sent = []

	func send(data):
		sent.append(data)
		return 0


# set_state(): with state_per_tick (the default) at most one state per server
# tick, sent at the first poll after a frame of a newer tick (or after two
# ticks without one), always the latest value; without it, at every poll.
func test_state_pacing():
	var c = Client.new()
	current = c
	watch(c)
	welcomed_in_room(c)  # tick 101, tick rate 30
	var rec = SendRecorder.new()
	c._link = rec
	var now = 5000
	c.set_state("a")
	h.check(c._state_dirty and c._state_due(now), "the first state is due at once")
	c._send_state(now)
	h.check(rec.sent.size() == 1 and sent_state(rec, 0) == "a", "first state sent: %s" % str(rec.sent))
	c.set_state("b")
	c.set_state("c")
	h.check(not c._state_due(now + 16) and not c._state_due(now + 65), "a second state in the same tick waits")
	feed(c, [40, 102, 1700000000066, [7, false, 1, false, null, [], [], [], []], [], []])
	h.check(c._state_due(now + 16), "a frame of a newer tick makes it due")
	c._send_state(now + 16)
	h.check(rec.sent.size() == 2 and sent_state(rec, 1) == "c", "the latest value is sent: %s" % str(sent_state(rec, 1)))
	# No frame comes: after two ticks (66 ms at 30 Hz) it does not wait.
	c.set_state("d")
	h.check(not c._state_due(now + 16 + 65) and c._state_due(now + 16 + 66), "without frames, due after two ticks")
	# A frame of the same tick again (none newer) does not count.
	feed(c, [40, 102, 1700000000066, [7, false, 1, false, null, [], [], [], []], [], []])
	h.check(not c._state_due(now + 20), "a frame of the tick already seen")
	# Without state_per_tick: every poll.
	c._opts["state_per_tick"] = false
	h.check(c._state_due(now + 17), "state_per_tick off: due at every poll")
	c._send_state(now + 17)
	c.set_state("e")
	h.check(c._state_due(now + 17), "state_per_tick off: due again at once")
	# A resumed session sends the latest state again without waiting.
	c._opts["state_per_tick"] = true
	c._send_state(now + 18)
	c._link = null
	Resume.begin(c, Client.DISCONNECT_LINK_LOST, "test", now + 20)
	feed(c, [2, 1, 2, "tok2", 30, 1700000001000, 130, true, 7])
	h.check(c._state_dirty and c._state_due(now + 21), "after a resume the state is due at once")


# The value of the n-th state message a SendRecorder saw.
func sent_state(rec, n):
	var d = rec.sent[n]
	var r = mp.decode_slice(d, 4, d.size(), true)
	if not r.ok or typeof(r.value) != TYPE_ARRAY or r.value.size() != 2 or r.value[0] != Protocol.MSG_STATE:
		return "not a state message: %s" % str(d)
	return r.value[1]


# The client's clock (Godot 4's Time singleton, as client.gd uses it),
# moved by the test.
class FakeClock:
	var usec = 1000000000

	func get_ticks_usec():
		return usec

	func advance_ms(ms):
		usec += ms * 1000


# A socket for poll(): datagrams to hand out, and those sent.
class FakeUDP:
	var inbox = []
	var outbox = []

	func get_available_packet_count():
		return inbox.size()

	func get_packet():
		return inbox.pop_front()

	func put_packet(d):
		outbox.append(d)
		return OK

	func close():
		pass


# What poll() sends, through a fake socket and a KCP peer standing in for the
# relay: a poll that received nothing sends nothing; with coalesce_sends, the
# acks of a frame and this player's state go out together at the next poll
# (one datagram), unless something else is waiting, the polls are too far
# apart, or the previous poll already left its acks.
func test_poll_sends():
	var c = Client.new()
	current = c
	watch(c)
	welcomed_in_room(c)  # tick 101
	# Virtual time: the polls' intervals are what the test says, however
	# busy the machine (the decision depends on them).
	var clock = FakeClock.new()
	c._time = clock
	var udp = fake_link(c, 4242)
	c._last_recv_ms = c.now_ms()
	c._next_ping_ms = c.now_ms() + 600000
	var srv = preload("res://addons/tickrelay/kcp.gd").new()
	srv.init(4242)
	var tick = [102]
	var pr = Protocol.new()
	c.poll()  # the first poll: no previous one to measure the interval from
	udp.outbox.clear()
	# A frame arrives; polls every 10 ms (3.3 per tick at 30 Hz).
	c.set_state(1)
	server_frame(c, srv, udp, tick)
	clock.advance_ms(10)
	var frames0 = c.stats["frames"]
	c.poll()
	h.check(c.stats["frames"] == frames0 + 1 and udp.outbox.size() == 0, "the frame's poll sends nothing: %d datagrams" % udp.outbox.size())
	c.set_state(2)
	clock.advance_ms(10)
	c.poll()
	var got = to_server(srv, udp, c.now_ms())
	h.check(got[0] == 1 and got[1] == [[20, 2]] and srv.wait_snd() == 0, "the next poll: one datagram with the acks and the latest state: %s, unacked %d" % [str(got), srv.wait_snd()])
	clock.advance_ms(10)
	c.set_state(3)
	c.poll()
	h.check(udp.outbox.size() == 0, "nothing received, state sent in this tick: nothing to send (%d)" % udp.outbox.size())
	# Two frames in two polls in a row: the second poll does not wait again.
	server_frame(c, srv, udp, tick)
	clock.advance_ms(10)
	c.poll()
	h.check(udp.outbox.size() == 0, "frame poll: nothing sent")
	server_frame(c, srv, udp, tick)
	clock.advance_ms(10)
	c.poll()
	got = to_server(srv, udp, c.now_ms())
	h.check(got[0] == 1 and got[1] == [[20, 3]] and srv.wait_snd() == 0, "acks left once are sent at the next poll: %s" % str(got))
	# A message waiting: the frame's poll sends at once, with the acks.
	server_frame(c, srv, udp, tick)
	c.send_event(0, 7, "e")
	c.set_state(4)
	clock.advance_ms(10)
	c.poll()
	got = to_server(srv, udp, c.now_ms())
	h.check(got[0] == 1 and got[1].has([21, 0, 7, "e", null]) and got[1].has([20, 4]) and srv.wait_snd() == 0, "with an event waiting: %s" % str(got))
	# Polls further apart than about half a tick (here 40 ms): at once.
	server_frame(c, srv, udp, tick)
	c.set_state(5)
	clock.advance_ms(40)
	c.poll()
	got = to_server(srv, udp, c.now_ms())
	h.check(got[0] == 1 and got[1] == [[20, 5]] and srv.wait_snd() == 0, "slow polls: the frame's poll sends: %s" % str(got))
	# coalesce_sends off: at once.
	c._opts["coalesce_sends"] = false
	server_frame(c, srv, udp, tick)
	c.set_state(6)
	clock.advance_ms(10)
	c.poll()
	got = to_server(srv, udp, c.now_ms())
	h.check(got[0] == 1 and got[1] == [[20, 6]] and srv.wait_snd() == 0, "coalesce_sends off: %s" % str(got))
	h.check(c.stats["states_sent"] == 5, "states sent: %d" % c.stats["states_sent"])


# The relay's side of test_poll_sends: a delta frame of the next tick.
func server_frame(c, srv, udp, tick):
	var p = Protocol.new()
	srv.send(p.frame(mp.encode([40, tick[0], 1700000000000 + tick[0] * 33, [7, false, 1, false, null, [], [], [], []], [], []])))
	tick[0] += 1
	srv.update(c.now_ms())
	srv.flush()
	for d in srv.take_output():
		udp.inbox.append(d)


# Hands what the client sent to the relay's KCP: [datagrams, messages].
func to_server(srv, udp, now):
	var n = udp.outbox.size()
	srv.current = now & 0xFFFFFFFF
	for d in udp.outbox:
		srv.input(d)
	udp.outbox.clear()
	var msgs = []
	while true:
		var m = srv.recv()
		if m.size() == 0:
			break
		var r = mp.decode_slice(m, 4, m.size(), true)
		msgs.append(r.value if r.ok else "bad message")
	return [n, msgs]


# A resume the server refuses, or one that runs out of time, disconnects.
func test_resume_refused():
	var c = Client.new()
	current = c
	watch(c)
	welcomed_in_room(c)
	Resume.begin(c, Client.DISCONNECT_LINK_LOST, "test", c.now_ms())
	var got = feed(c, [4, 26, "unknown, used or expired resume token"])
	h.check(got == ["disconnected[26, unknown, used or expired resume token]"], "resume_failed: %s" % str(got))
	h.check(c.status == Client.STATUS_DISCONNECTED and c.players.size() == 0, "disconnected and cleared")
	# A fresh welcome instead of a resume: the old player is gone.
	welcomed_in_room(c)
	Resume.begin(c, Client.DISCONNECT_LINK_LOST, "test", c.now_ms())
	got = feed(c, [2, 1, 5, "tok", 30, 1700000000000, 100, false, 0])
	h.check(got.size() == 1 and got[0].begins_with("disconnected[26, "), "not resumed: %s" % str(got))
	# The relay timed the link out while the client still hears it: resume.
	welcomed_in_room(c)
	got = feed(c, [4, 12, "nothing received within the idle timeout"])
	h.check(got == ["reconnecting[12, nothing received within the idle timeout]"] and c.is_reconnecting(), "idle close resumes: %s" % str(got))
	# No resume within resume_timeout_ms.
	c._resume_deadline = c.now_ms() - 1
	log_ = []
	c.poll()
	h.check(log_.size() == 1 and log_[0].begins_with("disconnected[12, could not resume"), "gave up: %s" % str(log_))
	# Other close codes end the session, as without resume.
	welcomed_in_room(c)
	got = feed(c, [4, 27, "the player resumed on another connection"])
	h.check(got == ["disconnected[27, the player resumed on another connection]"], "replaced: %s" % str(got))
	# auto_resume off: an idle close ends the session.
	welcomed_in_room(c)
	c._opts["auto_resume"] = false
	got = feed(c, [4, 12, "idle"])
	h.check(got == ["disconnected[12, idle]"], "no auto resume: %s" % str(got))


var forwarded = []


func _fwd(a, b, c, s):
	forwarded.append([s, a, b, c])


# relay_node.gd re-emits every client signal on itself.
func test_forwarding():
	var node = preload("res://addons/tickrelay/relay_node.gd").new()
	var c = node.client
	current = c
	h.check(c.signal_target == node and c.interpolator == node.interpolation, "the node owns the client")
	h.connect_signal(node, "state_received", self, "_fwd", ["state_received"])
	c.status = Client.STATUS_CONNECTING
	var p = Protocol.new()
	c._handle(p.decode_server(mp.encode([2, 1, 2, "tok", 30, 1700000000000, 100])), 0)
	c._handle(p.decode_server(mp.encode([31, 1, 7, "ABCDEF", "dm", 8])), 0)
	c._handle(p.decode_server(mp.encode([40, 101, 1700000000033, full_room(7, 1, [[1, "ana", {}]], [[1, {"pos": Vector2(1, 2)}]]), [], []])), 0)
	h.check(forwarded == [["state_received", 1, {"pos": Vector2(1, 2)}, 101]] or str(forwarded) == str([["state_received", 1, {"pos": Vector2(1, 2)}, 101]]),
		"forwarded: %s" % str(forwarded))
	h.check(node.get_player_id() == 2 and node.get_room_code() == "ABCDEF" and not node.is_master(), "node accessors")
	h.check(node.sample(1) != null and node.sample(1).pos == Vector2(1, 2), "node.sample: %s" % str(node.sample(1)))
	h.check(node.setting("tickrelay/no_such_setting", 42) == 42, "setting fallback")
	# Every signal of the client is one of the node's (it re-emits them all).
	var missing = []
	for sig in c.get_signal_list():
		if not node.has_signal(sig["name"]):
			missing.append(sig["name"])
	h.check(missing.size() == 0, "signals the Relay node lacks: %s" % str(missing))
	h.check(node.has_signal("match_found") and node.has_signal("peer_packet_received"), "the meeting place's signals on the node")
	node.free()
