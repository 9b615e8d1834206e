# client.gd against a real cluster of three relays (godot/enginetest/
# cluster_test.go starts them in the Go test, each serving KCP and
# WebSocket, and drives a Go client). A Node that runs over frames, in the
# GDScript both engines accept: over KCP in Godot 3.2 (tests/node_runner.gd),
# over WebSocket in the Godot 4.6 web engine (a runner's node step).
#
# mode "join": a Go client made a room, which lives on node `home`. This
# client connects to another node (`via`), joins the room by its code: the
# relay there answers with a redirect, and the client must end on node home
# (its player id's top byte), in the room, with one `connected` and no
# error; the time from the request to room_joined is printed. Both sides
# then see each other's state. A second client on a third node (`list`)
# lists the room with its two players. The page shows where the player is
# (a band and a label: what the Go side screenshots), then the Go client's
# event 7 ends the test.
#
# mode "match": this client connects to node `via` and queues (`queue`);
# the Go client queued on node `host`, the matchmaker's leader, which hosts
# the match (the node with most of its players: one each, and the leader
# counts first). The relay there tells this client with a match message,
# then a redirect with rid 0; the client follows it, and the game must see
# room_joined and then match_found (as on one relay), on node host, with one
# `connected`. States both ways, then the Go client's event 7.
#
# mode "party": a Go client made a party, which lives on node `home`. This
# client connects to another node (`via`) and joins it by its code: the
# relay there answers with a redirect, and the client must end on node
# home, in the party of two led by the Go client (`leader`), having seen
# connected once, redirected and party_changed, and no error.
#
# mode "partymatch": the Go client's party lives on node `home`, where
# this client connects and joins it (no redirect). The Go client then
# queues the party for a match whose room the matchmaker puts on node
# `host` (three other players queued there): the party moves with the
# match. The game must see the match (room_joined, then match_found) on
# node host, and its party made again there: two members, led by the Go
# client, with a code of node host (its first two characters).
#
#   args: mode (join | match | party | partymatch), via (node id), port or url (node
#   via), name, peer (the Go client's name), and for join: code, room, home,
#   home-link (link_description() on node home), list (node id), list-port
#   or list-url; for match: host, host-link, [queue=duel]; for party: code,
#   home, home-link, leader; for partymatch: code, host, host-prefix (the
#   code characters that name node host). [timeout-ms=30000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")

const DONE_EVENT = 7

var h
var done = false
var args = {}
var c
var lister
var step = 0
var deadline = 0
var mode = ""
var seen = []  # the game's signals, in order: [name, args...]
var t_request = 0  # when the join (or the queue) was asked for
var t_match = 0  # when match_found came
var t_match_msg = 0  # when the relay's match message came (before the redirect)
var t_redirect = 0  # when the client started following the redirect
var t_joined = 0  # when room_joined came
var next_list_ms = 0
var listed = false
var shown = ""
var printed_party = false
var band
var label


func _ready():
	h = preload("res://tests/harness.gd").new()
	args = h.args()
	mode = args.get("mode", "")
	deadline = h.now_msec() + int(args.get("timeout-ms", "30000"))
	c = make(args.get("name", "gd"), "port", "url")
	step = 1


# A client connected to the node of the arguments portKey / urlKey.
func make(name, port_key, url_key):
	var cl = Client.new()
	for s in ["connected", "redirected", "match_found", "match_ended", "room_left", "party_changed"]:
		h.connect_signal(cl, s, self, "_on1", [cl, s])
	for s in ["disconnected", "room_joined", "room_list"]:
		h.connect_signal(cl, s, self, "_on2", [cl, s])
	h.connect_signal(cl, "error", self, "_on3", [cl, "error"])
	h.connect_signal(cl, "event_received", self, "_on4", [cl, "event_received"])
	var o = {"name": name}
	if args.has(url_key):
		o["url"] = args[url_key]
	h.check(cl.connect_to_server("127.0.0.1", int(args.get(port_key, "0")), o) == OK, name + ": connect")
	return cl


func note(cl, what):
	if cl != c:
		what[0] = "list:" + what[0]
	seen.append(what)
	if what[0] == "room_joined":
		t_joined = h.now_msec()
	elif what[0] == "match_found":
		t_match = h.now_msec()


func _on1(x, cl, s):
	note(cl, [s, x])


func _on2(x, y, cl, s):
	note(cl, [s, x, y])


func _on3(x, y, z, cl, s):
	note(cl, [s, x, y, z])


func _on4(x, y, z, w, cl, s):
	note(cl, [s, x, y])


# The signals of one name, of this test's main client.
func got(s):
	var out = []
	for e in seen:
		if e[0] == s:
			out.append(e)
	return out


func names():
	var out = []
	for e in seen:
		if e[0] != "event_received":
			out.append(e[0])
	return out


func node_of(id):
	return (id >> 24) & 0xFF


func finish():
	if c != null:
		c.disconnect_from_server()
	if lister != null:
		lister.disconnect_from_server()
	done = true


func _process(_delta):
	if done:
		return
	c.poll()
	if lister != null:
		lister.poll()
	if t_match_msg == 0 and c.meeting.last_match != null:
		t_match_msg = h.now_msec()
	if t_redirect == 0 and step == 2 and c.status == Client.STATUS_CONNECTING:
		t_redirect = h.now_msec()
	if h.now_msec() > deadline:
		h.check(false, "timed out at step %d; signals %s; player %d, room %d, link %s" % [step, str(seen), c.player_id, c.room_id, c.link_description()])
		finish()
		return
	if got("disconnected").size() > 0 or got("list:disconnected").size() > 0:
		h.check(false, "disconnected at step %d: %s" % [step, str(seen)])
		finish()
		return
	if step == 1:
		if not c.is_connected_to_server():
			return
		h.check(node_of(c.player_id) == int(args.get("via", "0")), "connected to node %s: player %x" % [args.get("via", ""), c.player_id])
		h.check(t_redirect == 0, "no redirect before the request")
		t_request = h.now_msec()
		if mode == "join":
			c.join_by_code(args.get("code", ""))
		elif mode == "party" or mode == "partymatch":
			c.join_party(args.get("code", "").to_lower())
		else:
			c.queue_join(args.get("queue", "duel"), null, 1000.0)
		step = 2
	elif step == 2:
		if mode == "join":
			joined_by_code()
		elif mode == "party":
			joined_party()
		elif mode == "partymatch":
			party_matched()
		else:
			matched()
	elif step == 3:
		# Each side sees the other and its state.
		c.set_state({"from": "engine"})
		var peer = peer_id()
		if c.players.size() != 2 or peer == 0 or typeof(c.players[peer]["state"]) != typeof({}):
			return
		h.check(c.players[peer]["state"].get("from", "") == "go", "the Go client's state: %s" % str(c.players[peer]["state"]))
		h.check(node_of(peer) == node_of(c.room_id), "the Go client %x is on the room's node" % peer)
		if mode == "join":
			lister = make("lister", "list-port", "list-url")
		step = 4
	elif step == 4:
		if mode == "join" and not list_step():
			return
		show()
		step = 5
	elif step == 5:
		# The Go side has seen this player's state (and taken its
		# screenshot): its event ends the test.
		for e in got("event_received"):
			if e[1] == peer_id() and e[2] == DONE_EVENT:
				h.check(got("error").size() == 0 and got("list:error").size() == 0, "no errors: %s" % str(seen))
				finish()
				return


# mode join: the answer to join_by_code, after the redirect.
func joined_by_code():
	if got("error").size() > 0:
		h.check(false, "the join was refused: %s" % str(seen))
		finish()
		return
	if got("room_joined").size() == 0:
		return
	var home = int(args.get("home", "0"))
	var j = got("room_joined")[0]
	h.check(j[1] == h.parse_int(args.get("room", "0")) and j[2] == args.get("code", ""), "joined room %x (%s), want %s (%s)" % [j[1], j[2], args.get("room", ""), args.get("code", "")])
	h.check(node_of(c.player_id) == home and c.is_connected_to_server(), "on the room's node %d: player %x, status %d" % [home, c.player_id, c.status])
	h.check(c.link_description() == args.get("home-link", ""), "the link goes to node %d: %s, want %s" % [home, c.link_description(), args.get("home-link", "")])
	h.check(names() == ["connected", "redirected", "room_joined"], "the game saw connected once, redirected, then room_joined: %s" % str(names()))
	h.check(got("redirected")[0][1] == c.player_id, "redirected with the new id: %s" % str(got("redirected")))
	print("cluster: join by code over %s through node %s, redirected to node %d: %d ms from the request to room_joined (%d ms to the redirect, %d ms from there)" % [c.transport(), args.get("via", ""), home, t_joined - t_request, t_redirect - t_request, t_joined - t_redirect])
	step = 3


# mode party: the party, after the redirect to its node; the test ends.
func joined_party():
	if got("error").size() > 0:
		h.check(false, "the party join was refused: %s" % str(seen))
		finish()
		return
	var p = c.meeting.party
	if p["members"].size() < 2:
		return
	var home = int(args.get("home", "0"))
	h.check(p["code"] == args.get("code", "") and p["leader"] == h.parse_int(args.get("leader", "0")), "in party %s led by %x, want %s led by %s" % [p["code"], p["leader"], args.get("code", ""), args.get("leader", "")])
	h.check(node_of(c.player_id) == home and c.is_connected_to_server(), "on the party's node %d: player %x, status %d" % [home, c.player_id, c.status])
	h.check(c.link_description() == args.get("home-link", ""), "the link goes to node %d: %s, want %s" % [home, c.link_description(), args.get("home-link", "")])
	h.check(names() == ["connected", "redirected", "party_changed"], "the game saw connected once, redirected, then party_changed: %s" % str(names()))
	h.check(got("party_changed")[0][1]["party_id"] != 0, "party_changed with the party: %s" % str(got("party_changed")))
	print("cluster: party join over %s through node %s, redirected to node %d: %d ms from the request to party_changed" % [c.transport(), args.get("via", ""), home, h.now_msec() - t_request])
	h.check(got("error").size() == 0, "no errors: %s" % str(seen))
	finish()


# mode partymatch: in the party, then matched on node host with the party
# made again there.
func party_matched():
	if got("error").size() > 0 or got("match_ended").size() > 0:
		h.check(false, "refused or no match: %s" % str(seen))
		finish()
		return
	var p = c.meeting.party
	if t_match == 0:
		if p["members"].size() == 2 and p["code"] == args.get("code", "") and not printed_party:
			printed_party = true
			print("cluster: in the party %s on node %d" % [p["code"], node_of(c.player_id)])
		return
	if p["members"].size() < 2 or p["code"] == args.get("code", ""):
		return
	var host = int(args.get("host", "0"))
	var leader_name = ""
	for m in p["members"]:
		if m[0] == p["leader"]:
			leader_name = m[1]
	h.check(node_of(c.player_id) == host and node_of(c.room_id) == host, "moved to the match's node %d: player %x, room %x" % [host, c.player_id, c.room_id])
	h.check(p["code"].length() == 8 and p["code"].substr(0, 2) == args.get("host-prefix", ""), "the party's code %s names node %d (%s)" % [p["code"], host, args.get("host-prefix", "")])
	h.check(leader_name == args.get("peer", "") and node_of(p["leader"]) == host, "the party led by %s on node %d: %s" % [args.get("peer", ""), host, str(p)])
	var none_before_move = false
	for e in got("party_changed"):
		none_before_move = none_before_move or e[1]["party_id"] == 0
	h.check(none_before_move, "party_changed: the party, none before the move, then the party again: %s" % str(got("party_changed")))
	h.check(got("redirected").size() == 1 and got("room_joined").size() == 1, "one redirect, one room: %s" % str(names()))
	print("cluster: the party moved with its match to node %d as %s" % [host, p["code"]])
	finish()


# mode match: match_found and room_joined, after the rid-0 redirect.
func matched():
	if got("error").size() > 0 or got("match_ended").size() > 0:
		h.check(false, "no match: %s" % str(seen))
		finish()
		return
	if got("match_found").size() == 0 or got("room_joined").size() == 0:
		return
	var host = int(args.get("host", "0"))
	var m = got("match_found")[0][1]
	h.check(names() == ["connected", "redirected", "room_joined", "match_found"], "the game saw connected, redirected, room_joined, match_found: %s" % str(names()))
	h.check(got("redirected")[0][1] == c.player_id, "redirected with the new id: %s" % str(got("redirected")))
	h.check(m["outcome"] == 0 and m["room_id"] == c.room_id and node_of(c.room_id) == host, "match %s; in room %x on node %d" % [str(m), c.room_id, host])
	h.check(c.room_mode == args.get("queue", "duel") and not c.meeting.queued and c.meeting.last_match != null and c.meeting.last_match["room_id"] == c.room_id, "mode duel, no longer queued, last_match %s" % str(c.meeting.last_match))
	h.check(node_of(c.player_id) == host and c.is_connected_to_server(), "moved to the host node %d: player %x" % [host, c.player_id])
	h.check(c.link_description() == args.get("host-link", ""), "the link goes to node %d: %s, want %s" % [host, c.link_description(), args.get("host-link", "")])
	print("cluster: matched over %s on node %d through node %s: %d ms from queue_join to the match message, %d ms from there to room_joined on node %d (the redirect)" % [c.transport(), host, args.get("via", ""), t_match_msg - t_request, t_joined - t_match_msg, host])
	step = 3


# The player named peer in the room, or 0.
func peer_id():
	for id in c.players:
		if c.players[id]["name"] == args.get("peer", ""):
			return id
	return 0


# mode join: the third node lists the room with both players (its
# directory learns of the join within a few hundred ms: ask again until).
func list_step():
	if not lister.is_connected_to_server():
		return false
	var now = h.now_msec()
	for e in seen:
		if e[0] == "list:room_list":
			for r in e[2]:
				if r["room_id"] == c.room_id and r["players"] == 2:
					h.check(node_of(lister.player_id) == int(args.get("list", "0")), "the lister is on node %s: %x" % [args.get("list", ""), lister.player_id])
					h.check(r["mode"] == "coop" and r["max_players"] == 4, "listed as made: %s" % str(r))
					print("cluster: node %s lists room %x with %d players" % [args.get("list", ""), r["room_id"], r["players"]])
					return true
	if now >= next_list_ms:
		next_list_ms = now + 300
		seen = filter_lists()
		lister.list_rooms("coop")
	return false


func filter_lists():
	var out = []
	for e in seen:
		if e[0] != "list:room_list":
			out.append(e)
	return out


# What a player would see: a band in the room's colour and a line saying
# where the player is.
func show():
	var others = []
	for id in c.players:
		others.append(c.players[id]["name"])
	others.sort()
	shown = "room %s on node %d, player %x: %s" % [c.room_code, node_of(c.room_id), c.player_id, _join(others)]
	band = ColorRect.new()
	band.color = Color(0.1, 0.55, 0.3)
	band.set_position(Vector2(0, 0))
	band.set_size(Vector2(640, 64))
	add_child(band)
	label = Label.new()
	label.text = shown
	label.set_position(Vector2(16, 20))
	add_child(label)
	print("cluster: shown " + label.text)


func _join(parts):
	var out = ""
	for i in range(parts.size()):
		out += (", " if i > 0 else "") + parts[i]
	return out
