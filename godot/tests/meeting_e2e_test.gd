# The meeting place end to end against the real relay: two clients of this
# engine (over KCP in Godot 3, via tests/node_runner.gd; over WebSocket in the
# Godot 4.6 web engine, as a runner's node step), and ana, a Go client that
# godot/enginetest/meeting_test.go drives. A Node that runs over frames, in
# the GDScript both engines accept. In order:
#   1. both connect and join the lobby channel "global": the history holds
#      ana's line; a's line "ready" reaches a and b with its channel and name
#   2. the Go side sees "ready" and the relay's operator announces: both get
#      the announcement
#   3. a creates a party, b joins it by its code (both see two members, a
#      leading), b says a line to the "party" channel, b leaves (b: no party)
#   4. a and b queue for "duel" (the relay's queue needs 2 players and runs
#      every 100 ms): both land in one room (room_joined, match_found with
#      that room), and see each other in it
#   5. queue_leave while not queued is refused; both say bye
#
#   args: port, [transport] [timeout-ms=30000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")

var h
var done = false
var a
var b
var step = 0
var deadline = 0
var step_ms = 0
var seen = {}  # "who:signal" -> [args, ...]
var party_code = ""
var bad_rid = 0


func _ready():
	h = preload("res://tests/harness.gd").new()
	var args = h.args()
	deadline = Time_ms() + int(args.get("timeout-ms", "30000"))
	var port = int(args.get("port", "0"))
	var opts = {}
	if args.has("transport"):
		opts["transport"] = args["transport"]
	a = make("a", port, opts)
	b = make("b", port, opts)
	step = 1


func Time_ms():
	if Engine.has_singleton("Time"):
		return Engine.get_singleton("Time").get_ticks_msec()
	return OS.call("get_ticks_msec")


func make(who, port, opts):
	var c = Client.new()
	var o = opts.duplicate()
	o["name"] = "gd-" + who
	for s in ["connected", "announcement", "match_found", "match_ended", "party_changed", "channel_joined", "room_left"]:
		h.connect_signal(c, s, self, "_on1", [who, s])
	for s in ["disconnected", "room_joined"]:
		h.connect_signal(c, s, self, "_on2", [who, s])
	h.connect_signal(c, "error", self, "_on3", [who, "error"])
	h.connect_signal(c, "channel_message", self, "_on4", [who, "channel_message"])
	h.check(c.connect_to_server("127.0.0.1", port, o) == OK, who + ": connect")
	return c


func note(who, s, args):
	var k = who + ":" + s
	if not seen.has(k):
		seen[k] = []
	seen[k].append(args)


func _on1(x, who, s):
	note(who, s, [x])


func _on2(x, y, who, s):
	note(who, s, [x, y])


func _on3(x, y, z, who, s):
	note(who, s, [x, y, z])


func _on4(x, y, z, w, who, s):
	note(who, s, [x, y, z, w])


func got(who, s):
	return seen.get(who + ":" + s, [])


func finish():
	done = true
	set_process(false)


func next():
	step += 1
	step_ms = Time_ms()


func _process(_delta):
	if done:
		return
	a.poll()
	b.poll()
	if Time_ms() > deadline:
		h.check(false, "timed out at step %d; seen %s" % [step, str(seen.keys())])
		finish()
		return
	for who in ["a", "b"]:
		if got(who, "disconnected").size() > 0 and step < 6:
			h.check(false, "%s disconnected: %s" % [who, str(got(who, "disconnected"))])
			finish()
			return
	if step == 1:
		if a.is_connected_to_server() and b.is_connected_to_server():
			a.join_channel("global")
			b.join_channel("global")
			next()
	elif step == 2:
		if got("a", "channel_joined").size() == 0 or got("b", "channel_joined").size() == 0:
			return
		var info = got("a", "channel_joined")[0][0]
		var lines = []
		for l in info["history"]:
			lines.append("%s: %s" % [l[1], l[3]])
		h.check(info["name"] == "global" and lines.has("ana: hello lobby"), "a: global's history %s" % str(lines))
		h.check(info["count"] >= 2, "a: global's count %d" % info["count"])
		h.check(a.meeting.channels.has("global"), "a: in global")
		a.say("global", "ready")
		next()
	elif step == 3:
		# The line reaches both, with its channel and sender's name; then
		# the Go side announces.
		if got("a", "channel_message").size() == 0 or got("b", "channel_message").size() == 0:
			return
		for who in ["a", "b"]:
			var m = got(who, "channel_message")[0]
			h.check(m[0] == "global" and m[1] == a.player_id and m[2] == "gd-a" and m[3] == "ready", "%s: channel line %s" % [who, str(m)])
		next()
	elif step == 4:
		if got("a", "announcement").size() == 0 or got("b", "announcement").size() == 0:
			return
		h.check(got("a", "announcement")[0][0] == "restart at 18:00" and got("b", "announcement")[0][0] == "restart at 18:00", "announcements %s" % str([got("a", "announcement"), got("b", "announcement")]))
		a.create_party()
		next()
	elif step == 5:
		party_step()
	elif step == 6:
		queue_step()
	elif step == 7:
		if got("a", "error").size() == 0:
			return
		var e = got("a", "error")[0]
		h.check(e[0] == bad_rid and e[1] == 1, "queue_leave while not queued: %s" % str(e))
		a.disconnect_from_server()
		b.disconnect_from_server()
		finish()


var party_phase = 0


func party_step():
	if party_phase == 0:
		if a.get_party()["party_id"] == 0:
			return
		party_code = a.get_party()["code"]
		h.check(party_code.length() == 6 and a.get_party()["leader"] == a.player_id, "a leads a party: %s" % str(a.get_party()))
		b.join_party(party_code)
		party_phase = 1
	elif party_phase == 1:
		if a.get_party()["members"].size() < 2 or b.get_party()["members"].size() < 2:
			return
		for c in [a, b]:
			var p = c.get_party()
			h.check(p["code"] == party_code and p["leader"] == a.player_id and p["members"][0][0] == a.player_id and p["members"][1][1] == "gd-b",
				"%s's party %s" % [c.player_id, str(p)])
		b.say("party", "in the party")
		party_phase = 2
	elif party_phase == 2:
		var lines = got("a", "channel_message")
		if lines.size() < 2:
			return
		h.check(lines[1][0] == "party" and lines[1][1] == b.player_id and lines[1][3] == "in the party", "a: the party's line %s" % str(lines[1]))
		b.leave_party()
		party_phase = 3
	elif party_phase == 3:
		if b.get_party()["party_id"] != 0 or a.get_party()["members"].size() != 1:
			return
		h.check(got("b", "party_changed").back()[0]["party_id"] == 0, "b: no party")
		a.leave_party()
		party_phase = 4
	elif party_phase == 4:
		if a.get_party()["party_id"] != 0:
			return
		a.queue_join("duel", ["eu"], 1500)
		b.queue_join("duel", null, 1490)
		next()


func queue_step():
	if got("a", "match_found").size() == 0 or got("b", "match_found").size() == 0:
		return
	if a.players.size() < 2 or b.players.size() < 2:
		return
	var ma = got("a", "match_found")[0][0]
	var mb = got("b", "match_found")[0][0]
	h.check(ma["outcome"] == 0 and mb["outcome"] == 0, "matches found: %s %s" % [str(ma), str(mb)])
	h.check(ma["room_id"] != 0 and ma["room_id"] == mb["room_id"], "one room: %d and %d" % [ma["room_id"], mb["room_id"]])
	h.check(a.room_id == ma["room_id"] and b.room_id == ma["room_id"], "both in it: %d %d" % [a.room_id, b.room_id])
	h.check(got("a", "room_joined").size() == 1 and got("a", "room_joined")[0][0] == ma["room_id"], "a: room_joined %s" % str(got("a", "room_joined")))
	h.check(a.players.has(b.player_id) and b.players.has(a.player_id), "each sees the other")
	h.check(a.room_mode == "duel" and not a.meeting.queued and not b.meeting.queued, "mode duel, no longer queued")
	print("meeting: matched into room %d after %d ms (waited %d ms)" % [ma["room_id"], Time_ms() - step_ms, ma["waited_ms"]])
	bad_rid = a.queue_leave()
	next()
