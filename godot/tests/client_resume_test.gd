# client.gd's resume against a real relay, with a Go client (ana) in the
# room (godot/enginetest/resume_test.go drives it and cuts the network). The
# phases, each ended by an event this script sends so that the Go side knows
# where it is:
#   1. join by code; receive ana's first `first` events (event 900)
#   2. the Go side cuts this client's source address off: the link is found
#      dead after link_timeout_ms, the client emits reconnecting (and sends
#      event 950, queued until the resume) and resumes from a new socket;
#      once it has `before-resume-now` events and ana's state ["ana", 3]:
#      event 901
#   3. resume_now() with the old link still working (event 951 queued while
#      reconnecting); once it has all `total` events and ana's state
#      ["ana", 4]: event 902
#   4. wait until everything sent is acknowledged, say bye, exit
# Throughout, ana's events (code 7, payloads 1..total) must arrive exactly
# once and in order, and the player id, room and members must not change.
# With --expect-refusal the relay's grace ends before the client resumes:
# after phase 1, reconnecting must be followed by disconnected(26).
#
#   godot3-server --no-window --path PROJECT -s res://tests/client_resume_test.gd -- \
#       --host=127.0.0.1 --port=N --code=ABCDEF --ana=ID --first=10 \
#       --before-resume-now=40 --total=60 [--timeout-ms=35000] [--expect-refusal]
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
var c
var ana = 0
var me = 0
var lifecycle = []  # connected / reconnecting / reconnected / disconnected, in order
var reconnect_reasons = []
var disconnects = []
var errors = []
var joins = []
var leaves = []
var presence = []
var events = []  # [from, code, payload, tick]
var chats = []
var last_state = {}
var convs = []  # the KCP conversation of each connection
var ids_at_resume = []
var rooms_at_resume = []


func _init():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	var host = a.get("host", "127.0.0.1")
	var port = int(a.get("port", "0"))
	var code = a.get("code", "")
	ana = int(a.get("ana", "0"))
	var first = int(a.get("first", "10"))
	var before_now = int(a.get("before-resume-now", "40"))
	var total = int(a.get("total", "60"))
	var timeout_ms = int(a.get("timeout-ms", "35000"))
	var refusal = a.get("expect-refusal", "") == "true"
	if not h.check(port > 0 and code != "" and ana > 0, "--port, --code and --ana are required"):
		h.finish(self)
		return

	c = Client.new()
	for s in ["connected", "disconnected", "error", "player_joined", "player_left", "player_presence_changed",
			"state_received", "event_received", "chat_received", "reconnecting", "reconnected"]:
		h.connect_signal(c, s, self, "_on_" + s)
	# The relay of this test times a silent link out after 1.5 s; this client
	# gives up on it after 4 s, pings often (the idle timeout applies to it
	# too) and has 8 s to resume.
	h.check(c.connect_to_server(host, port, {"name": "godot", "link_timeout_ms": 4000, "ping_interval_ms": 250,
		"resume_timeout_ms": 8000, "resume_attempts": 4}) == OK, "connect_to_server")

	var start = h.now_msec()
	var deadline = start + timeout_ms
	var phase = 0
	var phase_ms = {}
	var room_at_join = 0
	var next_state_ms = 0
	var nstate = 0
	var drained_at = -1
	while true:
		c.poll()
		var now = h.now_msec()
		# States pause while waiting for everything sent to be acknowledged.
		if phase >= 1 and phase != 4 and phase < 6 and now >= next_state_ms and c.is_in_room():
			# A state at 60 Hz, as a game sends; it also keeps the link busy.
			next_state_ms = now + 16
			nstate += 1
			c.set_state(["godot", nstate])
		if phase == 0 and lifecycle == ["connected"]:
			me = c.player_id
			convs.append(c.stats["conv"])
			c.join_by_code(code)
			phase = 1
		elif phase == 1 and c.players.has(ana) and c.players.has(me):
			room_at_join = c.room_id
			phase = 2
		elif phase == 2 and ana_events() >= first:
			c.send_event(Protocol.TARGET_OTHERS, 900, null)
			phase_ms["first events"] = now - start
			phase = 3
		elif phase == 3 and refusal:
			if disconnects.size() > 0:
				phase_ms["refused"] = now - start
				check_refused()
				break
		elif phase == 3 and lifecycle.count("reconnected") == 1 and ana_events() >= before_now and last_state.get(ana) == ["ana", 3]:
			c.send_event(Protocol.TARGET_OTHERS, 901, null)
			phase_ms["resumed"] = now - start
			phase = 4
		elif phase == 4 and c.unacked_messages() == 0:
			# 901 reached the relay: it cannot be lost with the old link.
			h.check(c.resume_now() == OK, "resume_now")
			h.check(c.is_connected_to_server(), "resume_now() takes effect in the next poll")
			phase = 5
		elif phase == 5 and lifecycle.count("reconnected") == 2 and ana_events() >= total and last_state.get(ana) == ["ana", 4]:
			c.send_event(Protocol.TARGET_OTHERS, 902, null)
			phase_ms["resumed again"] = now - start
			phase = 6
		elif phase == 6 and c.unacked_messages() == 0:
			if drained_at < 0:
				drained_at = now
				check_final(room_at_join, total)
				c.disconnect_from_server()
				phase = 7
		elif phase == 7 and not c.is_socket_open():
			break
		if phase == 7 and now - drained_at > 3000:
			h.check(false, "the socket stayed open 3 s after the bye")
			break
		if disconnects.size() > 0 and phase < 7 and not refusal:
			h.check(false, "disconnected in phase %d: %s" % [phase, str(disconnects)])
			break
		if now > deadline:
			h.check(false, "timed out in phase %d: lifecycle %s, %d events from ana, ana's state %s, status %d" % [
				phase, str(lifecycle), ana_events(), str(last_state.get(ana)), c.status])
			break
		OS.delay_msec(2)

	if not refusal:
		h.check(disconnects.size() == 1 and disconnects[0][0] == Protocol.CODE_CLIENT_CLOSED, "one disconnected(client_closed): %s" % str(disconnects))
	h.check(errors.size() == 0, "errors: %s" % str(errors))
	print("phases (ms since start): %s; reconnecting reasons: %s" % [str(phase_ms), str(reconnect_reasons)])
	print("stats %s" % str(c.stats))
	h.finish(self)


func ana_events():
	var n = 0
	for e in events:
		if e[0] == ana:
			n += 1
	return n


# The relay forgot the player before it came back: resume_failed.
func check_refused():
	h.check(lifecycle == ["connected", "reconnecting", "disconnected"], "lifecycle: %s" % str(lifecycle))
	h.check(disconnects.size() == 1 and disconnects[0][0] == Protocol.CODE_RESUME_FAILED, "disconnected(resume_failed): %s" % str(disconnects))
	h.check(c.status == Client.STATUS_DISCONNECTED and not c.is_socket_open(), "closed")
	h.check(c.room_id == 0 and c.players.size() == 0, "room view cleared")
	h.check(c.stats["resume_attempts"] == 1, "one attempt: the relay answered it: %d" % c.stats["resume_attempts"])
	h.check(c.resume_now() == ERR_UNAVAILABLE, "nothing left to resume")


func check_final(room_at_join, total):
	h.check(lifecycle == ["connected", "reconnecting", "reconnected", "reconnecting", "reconnected"], "lifecycle: %s" % str(lifecycle))
	h.check(ids_at_resume == [me, me] and c.player_id == me, "player id kept: %s, now %d, first %d" % [str(ids_at_resume), c.player_id, me])
	h.check(rooms_at_resume == [room_at_join, room_at_join] and c.room_id == room_at_join, "room kept: %s" % str(rooms_at_resume))
	h.check(c.stats["resumes"] == 2, "resumes: %d" % c.stats["resumes"])
	h.check(convs.size() == 3 and convs[0] != convs[1] and convs[1] != convs[2] and convs[0] != convs[2], "a new conversation each time: %s" % str(convs))
	# The first loss was found by the link timeout; the second was asked for.
	h.check(reconnect_reasons.size() == 2 and reconnect_reasons[0][0] == Client.DISCONNECT_LINK_LOST, "reconnecting: %s" % str(reconnect_reasons))
	# ana's events: 1..total, once each, in order, ticks not going back.
	var got = []
	var last_tick = 0
	var ticks_ok = true
	for e in events:
		if e[0] != ana:
			h.check(false, "event from %d (not ana): %s" % [e[0], str(e)])
			continue
		got.append(e[2])
		if e[1] != 7:
			h.check(false, "event code %d" % e[1])
		if e[3] < last_tick:
			ticks_ok = false
		last_tick = e[3]
	var want = []
	for i in range(total):
		want.append(i + 1)
	h.check(got == want, "ana's events exactly once and in order:\n  got  %s\n  want %s" % [str(got), str(want)])
	h.check(ticks_ok, "event ticks went back")
	h.check(chats.size() == 1 and chats[0][0] == ana and chats[0][2] == "while you were away", "the chat line sent while away, once: %s" % str(chats))
	h.check(last_state.get(ana) == ["ana", 4], "ana's latest state: %s" % str(last_state.get(ana)))
	# Members: ana and this player from the first full frame; nobody left,
	# nobody joined again (the full frames after a resume keep the players).
	h.check(joins.size() == 2 and joins.has(ana) and joins.has(me), "joins: %s" % str(joins))
	h.check(leaves.size() == 0, "leaves: %s" % str(leaves))
	h.check(presence.size() == 0, "presence changes: %s" % str(presence))
	h.check(c.players.size() == 2 and c.players.has(ana) and c.players.has(me), "players: %s" % str(c.players.keys()))
	h.check(c.players[ana].connected and c.players[me].connected, "both connected in the view")
	h.check(c.players[ana].state == ["ana", 4], "ana's state in the view: %s" % str(c.players[ana].state))


func _on_connected(id):
	lifecycle.append("connected")


func _on_disconnected(code, reason):
	lifecycle.append("disconnected")
	disconnects.append([code, reason])


func _on_reconnecting(code, reason):
	lifecycle.append("reconnecting")
	reconnect_reasons.append([code, reason])
	h.check(c.status == Client.STATUS_RECONNECTING and c.is_reconnecting() and not c.is_connected_to_server(), "status while reconnecting")
	h.check(c.players.has(ana) and c.players.has(me), "the room view stays while reconnecting")
	# Sent while reconnecting: queued, it follows the resuming hello.
	var code_ = 950 if lifecycle.count("reconnecting") == 1 else 951
	h.check(c.send_event(Protocol.TARGET_OTHERS, code_, null), "send_event while reconnecting")


func _on_reconnected():
	lifecycle.append("reconnected")
	ids_at_resume.append(c.player_id)
	rooms_at_resume.append(c.room_id)
	convs.append(c.stats["conv"])
	h.check(c.is_connected_to_server(), "connected after reconnected")


func _on_error(rid, code, message):
	errors.append([rid, code, message])


func _on_player_joined(id, _name, _props):
	joins.append(id)


func _on_player_left(id):
	leaves.append(id)


func _on_player_presence_changed(id, connected):
	presence.append([id, connected])


func _on_state_received(id, value, _tick):
	last_state[id] = value


func _on_event_received(from, code, payload, tick):
	events.append([from, code, payload, tick])


func _on_chat_received(from, to, text, time_ms):
	chats.append([from, to, text, time_ms])
