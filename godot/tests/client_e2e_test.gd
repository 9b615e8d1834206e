# client.gd against a real relay (through a lossy proxy), in a room with Go
# clients (godot/enginetest/e2e_test.go drives them). The phases, each ended
# by an event this script sends so that the Go side knows where it is:
#   1. join by code; see ana (the master) and bob
#   2. exchange states, events (exactly once, in order), room chat and direct
#      messages; event 900 when everything from ana and bob has arrived
#   3. see carol join (event 901), then leave (event 902)
#   4. see ana leave and bob become master (event 903)
#   5. wait until everything sent is acknowledged, say bye, exit
#
#   godot3-server --no-window --path PROJECT -s res://tests/client_e2e_test.gd -- \
#       --host=127.0.0.1 --port=N --code=ABCDEF --ana=ID --bob=ID [--events=40] [--states=120]
#       [--ana-events=30] [--ana-states=60] [--timeout-ms=25000]
# This client sends `states` states at 60 Hz and `events` events at 25 Hz;
# it expects ana's last state to be ["ana", ana-states], and ana's events to
# be codes 200.. with payloads 0.., ana-events of them.
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
var c
var ana = 0
var bob = 0
var carol = 0
var nevents = 40
var nstates = 120
var ana_events = 30
var ana_states = 60

var connected_ids = []
var disconnects = []
var errors = []
var joined_rooms = []
var room_lefts = []
var joins = []  # [id, name, props]
var leaves = []
var masters = []
var events = []  # [from, code, payload, tick]
var chats = []  # [from, to, text, time_ms]
var last_state = {}  # id -> value
var state_ticks = {}  # id -> last tick
var state_tick_regressions = 0
var pongs = []
var phase_ms = {}


func _init():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	var host = a.get("host", "127.0.0.1")
	var port = int(a.get("port", "0"))
	var code = a.get("code", "")
	ana = int(a.get("ana", "0"))
	bob = int(a.get("bob", "0"))
	nevents = int(a.get("events", "40"))
	nstates = int(a.get("states", "120"))
	ana_events = int(a.get("ana-events", "30"))
	ana_states = int(a.get("ana-states", "60"))
	var timeout_ms = int(a.get("timeout-ms", "25000"))
	if not h.check(port > 0 and code != "" and ana > 0 and bob > 0, "--port, --code, --ana and --bob are required"):
		h.finish(self)
		return

	c = Client.new()
	for s in ["connected", "disconnected", "error", "room_joined", "room_left", "player_joined", "player_left",
			"master_changed", "state_received", "event_received", "chat_received", "pong"]:
		h.connect_signal(c, s, self, "_on_" + s)
	h.check(c.connect_to_server(host, port, {"name": "godot", "props": {"team": "blue"}, "timeout_ms": 10000}) == OK, "connect_to_server")
	h.check(c.status == Client.STATUS_CONNECTING, "connecting")

	var start = h.now_msec()
	var deadline = start + timeout_ms
	var phase = 0
	var sent_events = 0
	var sent_states = 0
	var final_state = ["godot", nstates, Vector2(1.5, -2.25)]
	var drained_at = -1
	var next_state_ms = 0
	var next_event_ms = 0
	while true:
		c.poll()
		var now = h.now_msec()
		if phase == 0 and connected_ids.size() > 0:
			c.join_by_code(code.to_lower())  # codes are case-insensitive
			phase = 1
		elif phase == 1 and c.players.has(ana) and c.players.has(bob) and c.players.has(c.player_id):
			phase_ms["in room"] = now - start
			c.chat("hello from godot")
			c.direct_message(ana, "hi ana")
			phase = 2
		elif phase == 2:
			# States at 60 Hz, as a game's frames would, and events at 25 Hz.
			if sent_states < nstates and now >= next_state_ms:
				next_state_ms = now + 16
				sent_states += 1
				c.set_state(["godot", sent_states, Vector2(1.5, -2.25)])
			if sent_events < nevents and now >= next_event_ms:
				next_event_ms = now + 40
				c.send_event(Protocol.TARGET_OTHERS, 100 + sent_events, "g%d" % sent_events)
				sent_events += 1
			if sent_states == nstates and sent_events == nevents and phase2_done():
				phase_ms["exchange"] = now - start
				c.send_event(Protocol.TARGET_OTHERS, 900, null)
				phase = 3
		elif phase == 3 and carol != 0:
			c.send_event(Protocol.TARGET_OTHERS, 901, carol)
			phase = 4
		elif phase == 4 and leaves.has(carol):
			c.send_event(Protocol.TARGET_OTHERS, 902, carol)
			phase = 5
		elif phase == 5 and leaves.has(ana) and c.master_id == bob:
			phase_ms["master change"] = now - start
			c.send_event(Protocol.TARGET_OTHERS, 903, bob)
			phase = 6
		elif phase == 6 and c.unacked_messages() == 0:
			# Everything reached the server: the events above cannot be lost
			# with the connection.
			if drained_at < 0:
				drained_at = now
				check_final(final_state)
				c.disconnect_from_server()
				h.check(c.status == Client.STATUS_DISCONNECTED, "disconnected at once")
				phase = 7
		elif phase == 7 and not c.is_socket_open():
			phase_ms["bye delivered"] = now - start
			break
		if phase == 7 and now - drained_at > 3000:
			h.check(false, "the socket stayed open 3 s after the bye")
			break
		if disconnects.size() > 0 and phase < 7:
			h.check(false, "disconnected in phase %d: %s" % [phase, str(disconnects)])
			break
		if now > deadline:
			h.check(false, "timed out in phase %d: players %s, events %d, chats %s, states %s" % [
				phase, str(c.players.keys()), events.size(), str(chats), str(last_state)])
			break
		OS.delay_msec(2)

	h.check(disconnects.size() == 1 and disconnects[0][0] == Protocol.CODE_CLIENT_CLOSED, "one disconnected(client_closed): %s" % str(disconnects))
	h.check(errors.size() == 0, "errors: %s" % str(errors))
	print("phases (ms since start): %s" % str(phase_ms))
	print("rtt %.1f ms (smoothed %.1f), %d pongs; stats %s" % [c.rtt_ms, c.srtt_ms, pongs.size(), str(c.stats)])
	h.finish(self)


# Everything ana and bob send in phase 2 has arrived.
func phase2_done():
	var from_ana = 0
	for e in events:
		if e[0] == ana:
			from_ana += 1
	return (last_state.get(ana) == ["ana", ana_states] and last_state.get(bob) == ["bob", 7]
		and from_ana >= ana_events and find_chat(bob, 0, "hello from bob") >= 0
		and find_chat(ana, c.player_id, "psst godot") >= 0
		and find_chat(c.player_id, 0, "hello from godot") >= 0
		and find_chat(c.player_id, ana, "hi ana") >= 0)


func find_chat(from, to, text):
	for i in range(chats.size()):
		var m = chats[i]
		if m[0] == from and m[1] == to and m[2] == text:
			return i
	return -1


func count_chat(from, to, text):
	var n = 0
	for m in chats:
		if m[0] == from and m[1] == to and m[2] == text:
			n += 1
	return n


func check_final(final_state):
	var me = c.player_id
	h.check(connected_ids == [me], "connected once: %s" % str(connected_ids))
	h.check(joined_rooms.size() == 1, "room_joined once: %s" % str(joined_rooms))
	h.check(room_lefts.size() == 0, "room_left: %s" % str(room_lefts))
	# Events from ana: exactly 100 + i with payload i, in order, once each.
	var got = []
	var last_tick = 0
	for e in events:
		if e[0] == ana:
			got.append([e[1], e[2]])
			h.check(e[3] >= last_tick, "event ticks go back: %d after %d" % [e[3], last_tick])
			last_tick = e[3]
		else:
			h.check(false, "event from %d (not ana): %s" % [e[0], str(e)])
	var want = []
	for i in range(ana_events):
		want.append([200 + i, i])
	h.check(got == want, "events from ana: got %s" % str(got))
	# States: the latest of each, own state echoed too.
	h.check(last_state.get(ana) == ["ana", ana_states], "ana's state: %s" % str(last_state.get(ana)))
	h.check(last_state.get(bob) == ["bob", 7], "bob's state: %s" % str(last_state.get(bob)))
	h.check(last_state.get(me) == final_state, "own state echo: %s" % str(last_state.get(me)))
	h.check(state_tick_regressions == 0, "%d states arrived with an older tick" % state_tick_regressions)
	# Chat, once each.
	h.check(count_chat(bob, 0, "hello from bob") == 1, "bob's room chat once")
	h.check(count_chat(ana, me, "psst godot") == 1, "ana's direct message once")
	h.check(count_chat(me, 0, "hello from godot") == 1, "own room chat echoed once")
	h.check(count_chat(me, ana, "hi ana") == 1, "own direct message echoed once")
	h.check(chats.size() == 4, "4 chat lines: %s" % str(chats))
	for m in chats:
		h.check(m[3] > 1600000000000, "chat time is Unix ms: %d" % m[3])
	# Membership: ana, bob and me from the full frame, then carol in and out,
	# then ana out and bob master.
	var names = {}
	for j in joins:
		names[j[0]] = j[1]
	h.check(names.get(ana) == "ana" and names.get(bob) == "bob" and names.get(me) == "godot" and names.get(carol) == "carol",
		"names: %s" % str(names))
	h.check(joins.size() == 4, "4 joins: %s" % str(joins))
	for j in joins:
		if j[0] == me:
			h.check(j[2].get("team") == "blue", "own props: %s" % str(j[2]))
	h.check(leaves == [carol, ana], "leaves: %s" % str(leaves))
	h.check(masters == [ana, bob], "masters: %s" % str(masters))
	h.check(c.players.size() == 2 and c.players.has(bob) and c.players.has(me), "players now: %s" % str(c.players.keys()))
	h.check(c.players[bob].name == "bob" and c.players[bob].state == ["bob", 7], "bob in the view: %s" % str(c.players[bob]))
	h.check(c.master_id == bob, "master_id %d" % c.master_id)
	# Clock and round trip.
	h.check(pongs.size() >= 1, "no pong")
	h.check(c.rtt_ms >= 10.0 and c.rtt_ms < 1000.0, "rtt %.1f ms through a 10-30 ms each way proxy" % c.rtt_ms)
	h.check(c.tick_rate == 30, "tick rate %d" % c.tick_rate)
	var est = c.estimated_server_tick()
	h.check(abs(est - c.server_tick) < 15.0, "estimated tick %.1f vs last frame %d" % [est, c.server_tick])
	var server_ms = c.estimated_server_time_ms()
	h.check(server_ms > 1600000000000.0, "server time %.0f" % server_ms)


func _on_connected(id):
	connected_ids.append(id)


func _on_disconnected(code, reason):
	disconnects.append([code, reason])


func _on_error(rid, code, message):
	errors.append([rid, code, message])


func _on_room_joined(room_id, code):
	joined_rooms.append([room_id, code])


func _on_room_left(code):
	room_lefts.append(code)


func _on_player_joined(id, pname, props):
	joins.append([id, pname, props])
	if pname == "carol":
		carol = id


func _on_player_left(id):
	leaves.append(id)


func _on_master_changed(id):
	masters.append(id)


func _on_state_received(id, value, tick):
	if state_ticks.has(id) and tick < state_ticks[id]:
		state_tick_regressions += 1
	state_ticks[id] = tick
	last_state[id] = value


func _on_event_received(from, code, payload, tick):
	events.append([from, code, payload, tick])


func _on_chat_received(from, to, text, time_ms):
	chats.append([from, to, text, time_ms])


func _on_pong(rtt):
	pongs.append(rtt)
