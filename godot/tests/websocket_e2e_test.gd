# client.gd in a web export against the real relay over WebSocket, in a room
# with Go clients over KCP (godot/enginetest/websocket_e2e_test.go starts the
# relay, drives the Go clients and cuts the connection). Godot 4 only: a
# Node that runs over frames, since a browser's WebSocket moves only between
# them. The phases, each ended by an event this script sends so that the Go
# side knows where it is:
#   1. connect with the default transport (WebSocket in a web export) to
#      ws://127.0.0.1:PORT/ (a TCP proxy in front of the relay), join by code;
#      see ana (the master) and bob
#   2. exchange states, events (exactly once, in order), room chat and direct
#      messages; event 900 when everything from ana and bob has arrived
#   3. see carol join (event 901), then leave (event 902)
#   4. the Go side cuts the connection (the proxy closes both TCP sides and
#      refuses new connections for a while): reconnecting; event 950 and chat
#      "sent while away" are queued; ana sends events, a chat line and a state
#      while the relay shows this player away; once the proxy lets it through,
#      the client resumes with its token and gets all of that exactly once;
#      then it sets state ["web", "back"]: event 903
#   5. see ana leave and bob become master (event 904)
#   6. wait until everything sent has left, say bye, done
#
#   args (godot/web's runner): port, code, ana, bob, [events=40] [states=120]
#   [ana-events=30] [ana-states=60] [away-events=10] [timeout-ms=40000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
# The runner waits until done is true, then reads h.
var done = false
var c
var phase = 0
var port = 0
var code = ""
var ana = 0
var bob = 0
var carol = 0
var me = 0
var nevents = 40
var nstates = 120
var ana_events = 30
var ana_states = 60
var away_events = 10
var start_ms = 0
var deadline = 0
var phase_ms = {}
var sent_events = 0
var sent_states = 0
var next_state_ms = 0
var next_event_ms = 0
var drained_at = -1
var room_at_join = 0

var lifecycle = []  # connected / reconnecting / reconnected / disconnected, in order
var reconnect_reasons = []
var disconnects = []
var errors = []
var joined_rooms = []
var joins = []  # [id, name, props]
var leaves = []
var masters = []
var presence = []
var events = []  # [from, code, payload, tick]
var chats = []  # [from, to, text, time_ms]
var last_state = {}  # id -> value
var state_ticks = {}  # id -> last tick
var state_tick_regressions = 0
var at_resume = []  # [player id, room id, link description] at each reconnected


func _ready():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	port = int(a.get("port", "0"))
	code = a.get("code", "")
	ana = int(a.get("ana", "0"))
	bob = int(a.get("bob", "0"))
	nevents = int(a.get("events", "40"))
	nstates = int(a.get("states", "120"))
	ana_events = int(a.get("ana-events", "30"))
	ana_states = int(a.get("ana-states", "60"))
	away_events = int(a.get("away-events", "10"))
	start_ms = h.now_msec()
	deadline = start_ms + int(a.get("timeout-ms", "40000"))
	if not h.check(port > 0 and code != "" and ana > 0 and bob > 0, "port, code, ana and bob are required"):
		finish()
		return
	h.check(OS.has_feature("web"), "runs in a web export")
	c = Client.new()
	for s in ["connected", "disconnected", "error", "room_joined", "player_joined", "player_left",
			"master_changed", "player_presence_changed", "state_received", "event_received",
			"chat_received", "reconnecting", "reconnected"]:
		h.connect_signal(c, s, self, "_on_" + s)
	# A resume attempt every 500 ms: the proxy refuses connections for a while.
	var err = c.connect_to_server("127.0.0.1", port, {"name": "web", "props": {"team": "red"},
		"timeout_ms": 10000, "resume_timeout_ms": 12000, "resume_attempts": 24})
	h.check(err == OK, "connect_to_server: %d" % err)
	h.check(c.transport() == Client.TRANSPORT_WEBSOCKET, "a web export picks WebSocket: %s" % c.transport())
	h.check(c.link_description() == "ws://127.0.0.1:%d/" % port, "to the relay's port over TCP: %s" % c.link_description())
	phase = 0


func _process(_delta):
	if done:
		return
	c.poll()
	var now = h.now_msec()
	if phase == 0 and lifecycle == ["connected"]:
		me = c.player_id
		c.join_by_code(code.to_lower())  # codes are case-insensitive
		phase = 1
	elif phase == 1 and c.players.has(ana) and c.players.has(bob) and c.players.has(me):
		room_at_join = c.room_id
		phase_ms["in room"] = now - start_ms
		c.chat("hello from web")
		c.direct_message(ana, "hi ana")
		phase = 2
	elif phase == 2:
		# A state every frame, as a game sends, and events at 25 Hz.
		if sent_states < nstates and now >= next_state_ms:
			next_state_ms = now + 16
			sent_states += 1
			c.set_state(["web", sent_states, Vector2(1.5, -2.25)])
		if sent_events < nevents and now >= next_event_ms:
			next_event_ms = now + 40
			c.send_event(Protocol.TARGET_OTHERS, 100 + sent_events, "w%d" % sent_events)
			sent_events += 1
		if sent_states == nstates and sent_events == nevents and exchange_done():
			phase_ms["exchange"] = now - start_ms
			c.send_event(Protocol.TARGET_OTHERS, 900, null)
			phase = 3
	elif phase == 3 and carol != 0:
		c.send_event(Protocol.TARGET_OTHERS, 901, carol)
		phase = 4
	elif phase == 4 and leaves.has(carol):
		c.send_event(Protocol.TARGET_OTHERS, 902, carol)
		phase = 5
	elif phase == 5 and lifecycle.count("reconnected") == 1 and away_done():
		phase_ms["resumed"] = now - start_ms
		c.set_state(["web", "back"])
		c.send_event(Protocol.TARGET_OTHERS, 903, null)
		phase = 6
	elif phase == 6 and leaves.has(ana) and c.master_id == bob:
		phase_ms["master change"] = now - start_ms
		c.send_event(Protocol.TARGET_OTHERS, 904, bob)
		phase = 7
	elif phase == 7 and c.unacked_messages() == 0:
		# Everything left this side (WebSocket says no more): the events
		# above are on their way before the bye.
		drained_at = now
		check_final()
		c.disconnect_from_server()
		h.check(c.status == Client.STATUS_DISCONNECTED, "disconnected at once")
		phase = 8
	elif phase == 8 and not c.is_socket_open():
		phase_ms["bye delivered"] = now - start_ms
		finish()
		return
	if phase == 8 and now - drained_at > 3000:
		h.check(false, "the socket stayed open 3 s after the bye")
		finish()
	elif disconnects.size() > 0 and phase < 8:
		h.check(false, "disconnected in phase %d: %s" % [phase, str(disconnects)])
		finish()
	elif now > deadline:
		h.check(false, "timed out in phase %d: lifecycle %s, players %s, %d events, chats %s, states %s" % [
			phase, str(lifecycle), str(c.players.keys()), events.size(), str(chats), str(last_state)])
		finish()


# Everything ana and bob send in phase 2 has arrived.
func exchange_done():
	return (last_state.get(ana) == ["ana", ana_states] and last_state.get(bob) == ["bob", 7]
		and events_from(ana).size() >= ana_events and find_chat(bob, 0, "hello from bob") >= 0
		and find_chat(ana, me, "psst web") >= 0
		and find_chat(me, 0, "hello from web") >= 0
		and find_chat(me, ana, "hi ana") >= 0)


# Everything ana sent while this client was away has arrived.
func away_done():
	return (events_from(ana).size() >= ana_events + away_events
		and find_chat(ana, 0, "while you were away") >= 0
		and find_chat(me, 0, "sent while away") >= 0
		and last_state.get(ana) == ["ana", "while away"])


func events_from(id):
	var out = []
	for e in events:
		if e[0] == id:
			out.append(e)
	return out


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


func check_final():
	h.check(lifecycle == ["connected", "reconnecting", "reconnected"], "lifecycle: %s" % str(lifecycle))
	h.check(joined_rooms.size() == 1, "room_joined once: %s" % str(joined_rooms))
	# The resume: same player, same room, over WebSocket again.
	var url = "ws://127.0.0.1:%d/" % port
	h.check(at_resume == [[me, room_at_join, url]], "resumed as the same player in the same room: %s (me %d, room %d)" % [str(at_resume), me, room_at_join])
	h.check(c.player_id == me and c.room_id == room_at_join, "player and room kept: %d %d" % [c.player_id, c.room_id])
	h.check(c.stats["resumes"] == 1, "one resume: %s" % str(c.stats))
	h.check(reconnect_reasons.size() == 1 and reconnect_reasons[0][0] == Client.DISCONNECT_LINK_LOST
		and reconnect_reasons[0][1].find("WebSocket") >= 0, "the cut WebSocket was found lost: %s" % str(reconnect_reasons))
	# ana's events: 200 + i with payload i, then 300 + i (sent while this
	# client was away, replayed by the resume), exactly once and in order.
	var got = []
	var last_tick = 0
	for e in events:
		if e[0] != ana:
			h.check(false, "event from %d (not ana): %s" % [e[0], str(e)])
			continue
		got.append([e[1], e[2]])
		h.check(e[3] >= last_tick, "event ticks go back: %d after %d" % [e[3], last_tick])
		last_tick = e[3]
	var want = []
	for i in range(ana_events):
		want.append([200 + i, i])
	for i in range(away_events):
		want.append([300 + i, "away %d" % i])
	h.check(got == want, "events from ana exactly once and in order:\n  got  %s\n  want %s" % [str(got), str(want)])
	# States: the latest of each; this player's own echoed too.
	h.check(last_state.get(ana) == ["ana", "while away"], "ana's state: %s" % str(last_state.get(ana)))
	h.check(last_state.get(bob) == ["bob", 7], "bob's state: %s" % str(last_state.get(bob)))
	h.check(last_state.get(me) == ["web", "back"], "own state echo: %s" % str(last_state.get(me)))
	h.check(state_tick_regressions == 0, "%d states arrived with an older tick" % state_tick_regressions)
	# Chat, once each: the line queued while away went after the resume.
	h.check(count_chat(bob, 0, "hello from bob") == 1, "bob's room chat once")
	h.check(count_chat(ana, me, "psst web") == 1, "ana's direct message once")
	h.check(count_chat(me, 0, "hello from web") == 1, "own room chat echoed once")
	h.check(count_chat(me, ana, "hi ana") == 1, "own direct message echoed once")
	h.check(count_chat(ana, 0, "while you were away") == 1, "ana's chat while away, once")
	h.check(count_chat(me, 0, "sent while away") == 1, "own chat queued while away, echoed once")
	h.check(chats.size() == 6, "6 chat lines: %s" % str(chats))
	for m in chats:
		h.check(m[3] > 1600000000000, "chat time is Unix ms: %d" % m[3])
	# Membership: ana, bob and me from the full frame, carol in and out, ana
	# out and bob master. The resume's full frame adds and removes nobody.
	var names = {}
	for j in joins:
		names[j[0]] = j[1]
	h.check(names.get(ana) == "ana" and names.get(bob) == "bob" and names.get(me) == "web" and names.get(carol) == "carol",
		"names: %s" % str(names))
	h.check(joins.size() == 4, "4 joins: %s" % str(joins))
	for j in joins:
		if j[0] == me:
			h.check(j[2].get("team") == "red", "own props: %s" % str(j[2]))
	h.check(leaves == [carol, ana], "leaves: %s" % str(leaves))
	h.check(masters == [ana, bob], "masters: %s" % str(masters))
	h.check(presence.size() == 0, "presence changes of others: %s" % str(presence))
	h.check(c.players.size() == 2 and c.players.has(bob) and c.players.has(me), "players now: %s" % str(c.players.keys()))
	h.check(c.players[bob].name == "bob" and c.players[bob].state == ["bob", 7], "bob in the view: %s" % str(c.players[bob]))
	h.check(c.master_id == bob, "master_id %d" % c.master_id)
	h.check(c.tick_rate == 30, "tick rate %d" % c.tick_rate)
	h.check(c.rtt_ms > 0.0 and c.rtt_ms < 1000.0, "rtt %.1f ms" % c.rtt_ms)


func finish():
	if c != null:
		h.check(errors.size() == 0, "errors: %s" % str(errors))
		if phase == 8:
			h.check(disconnects.size() == 1 and disconnects[0][0] == Protocol.CODE_CLIENT_CLOSED, "one disconnected(client_closed): %s" % str(disconnects))
		print("websocket e2e: phases (ms since start) %s; reconnecting %s; stats %s" % [str(phase_ms), str(reconnect_reasons), str(c.stats)])
	h.summary()
	done = true


func _on_connected(_id):
	lifecycle.append("connected")


func _on_disconnected(code_, reason):
	lifecycle.append("disconnected")
	disconnects.append([code_, reason])


func _on_reconnecting(code_, reason):
	lifecycle.append("reconnecting")
	reconnect_reasons.append([code_, reason])
	phase_ms["cut"] = h.now_msec() - start_ms
	h.check(phase == 5, "the cut came after carol left: phase %d" % phase)
	h.check(c.is_reconnecting() and not c.is_connected_to_server(), "status while reconnecting")
	h.check(c.players.has(ana) and c.players.has(bob) and c.players.has(me), "the room view stays while reconnecting")
	# Sent while reconnecting: queued, they follow the resuming hello.
	h.check(c.send_event(Protocol.TARGET_OTHERS, 950, null), "send_event while reconnecting")
	h.check(c.chat("sent while away"), "chat while reconnecting")


func _on_reconnected():
	lifecycle.append("reconnected")
	at_resume.append([c.player_id, c.room_id, c.link_description()])
	h.check(c.is_connected_to_server(), "connected after reconnected")


func _on_error(rid, code_, message):
	errors.append([rid, code_, message])


func _on_room_joined(room_id, room_code):
	joined_rooms.append([room_id, room_code])


func _on_player_joined(id, pname, props):
	joins.append([id, pname, props])
	if pname == "carol":
		carol = id


func _on_player_left(id):
	leaves.append(id)


func _on_master_changed(id):
	masters.append(id)


func _on_player_presence_changed(id, connected):
	presence.append([id, connected])


func _on_state_received(id, value, tick):
	if state_ticks.has(id) and tick < state_ticks[id]:
		state_tick_regressions += 1
	state_ticks[id] = tick
	last_state[id] = value


func _on_event_received(from, code_, payload, tick):
	events.append([from, code_, payload, tick])


func _on_chat_received(from, to, text, time_ms):
	chats.append([from, to, text, time_ms])
