# The meeting place of client.gd: the matchmaker's queue, parties and lobby
# chat channels (PROTOCOL.md 4.15-4.19 and 5.7-5.11), kept in an object of
# its own so that client.gd stays readable. client.gd makes one
# (client.meeting), forwards its methods (queue_join, create_party, ...) and
# hands it the server messages it handles; the signals are client.gd's
# (emitted through it, so the Relay autoload re-emits them too). In the
# GDScript subset that both Godot 3.2+ and Godot 4.x accept.

const Protocol = preload("protocol.gd")

# This player's party as of the relay's last party message: party_id (0: in
# no party), code (what friends type to join), leader (a player id) and
# members ([[player_id, name], ...] in join order).
var party = {}
# The channels this player is in: name -> {name, count, members} as of the
# last channel message (members: the first 50, [[player_id, name], ...]).
var channels = {}
# True from queue_join's ok until a match message ends the ticket.
var queued = false
# The last match message as a Dictionary (outcome, room_id, team, region,
# waited_ms); null before the first.
var last_match = null

var _client  # weakref to client.gd: it owns this object
var _pending = {}  # request id -> [what, name] for requests whose ok changes state
# A match whose room this player is not in yet: match_found waits for the
# room's room_joined. The relay sends the match message first; in a
# cluster, the room may be on another node, reached through a redirect.
var _held = null


func _init(client):
	_client = weakref(client)
	reset()


# Forgets everything (a new connection).
func reset():
	party = {"party_id": 0, "code": "", "leader": 0, "members": []}
	channels = {}
	queued = false
	last_match = null
	_pending = {}
	_held = null


# The relay moved this player to another node (redirect.gd): its party and
# channels stayed on the old one (party_changed says so when it had a
# party), and the answers of requests sent there will not come. A match
# waiting for its room there is kept.
func moved():
	var had_party = party["party_id"] != 0
	party = {"party_id": 0, "code": "", "leader": 0, "members": []}
	channels = {}
	queued = false
	_pending = {}
	if had_party:
		_client.get_ref()._emit1("party_changed", party)


# The client is in room room_id (room_joined was emitted): a match held for
# it is told now.
func on_room_joined(room_id):
	if _held != null and _held["room_id"] == room_id:
		var m = _held
		_held = null
		_client.get_ref()._emit1("match_found", m)


# The seat a redirect led to was refused (or the redirect could not be
# followed): a match held for it ended without a room for this player.
func on_seat_lost():
	if _held != null:
		_held = null
		_client.get_ref()._emit1("match_ended", Protocol.MATCH_CANCELLED)


# ---------------------------------------------------------------- requests
# Each returns the request id; the answer is request_ok (or error) with it.

func queue_join(mode, regions = null, skill = 0.0, props = null):
	var c = _client.get_ref()
	var rid = c._next_rid()
	_pending[rid] = ["queue", ""]
	return c._request(rid, c._proto.encode_queue_join(rid, mode, regions, skill, props))


func queue_leave():
	var c = _client.get_ref()
	var rid = c._next_rid()
	_pending[rid] = ["unqueue", ""]
	return c._request(rid, c._proto.encode_queue_leave(rid))


func request_backfill(teams):
	var c = _client.get_ref()
	var rid = c._next_rid()
	return c._request(rid, c._proto.encode_backfill(rid, teams))


func create_party():
	var c = _client.get_ref()
	var rid = c._next_rid()
	return c._request(rid, c._proto.encode_party_create(rid))


func join_party(code):
	var c = _client.get_ref()
	var rid = c._next_rid()
	return c._request(rid, c._proto.encode_party_join(rid, code))


func leave_party():
	var c = _client.get_ref()
	var rid = c._next_rid()
	return c._request(rid, c._proto.encode_party_leave(rid))


func join_channel(name):
	var c = _client.get_ref()
	var rid = c._next_rid()
	_pending[rid] = ["join_channel", name]
	return c._request(rid, c._proto.encode_channel_join(rid, name))


func leave_channel(name):
	var c = _client.get_ref()
	var rid = c._next_rid()
	_pending[rid] = ["leave_channel", name]
	return c._request(rid, c._proto.encode_channel_leave(rid, name))


func channel_members(name):
	var c = _client.get_ref()
	var rid = c._next_rid()
	_pending[rid] = ["members", name]
	return c._request(rid, c._proto.encode_channel_members(rid, name))


# A line to a channel ("party": this player's party); true when queued.
func say(name, text):
	var c = _client.get_ref()
	if not c._can_send("channel_say"):
		return false
	var n = c._utf8_len(text)
	if n > c._opts["max_chat_bytes"]:
		return c._refuse("channel line of %d bytes is over the %d-byte limit" % [n, c._opts["max_chat_bytes"]])
	return c._send_checked(c._proto.encode_channel_say(name, text), "channel_say")


# ---------------------------------------------------------------- answers

# The answer to a request of this object: ok (t = MSG_OK) or error.
func on_reply(t, rid):
	if not _pending.has(rid):
		return
	var p = _pending[rid]
	_pending.erase(rid)
	if t != Protocol.MSG_OK:
		return
	if p[0] == "queue":
		queued = true
	elif p[0] == "unqueue":
		queued = false
	elif p[0] == "leave_channel":
		channels.erase(p[1])


# Handles announce, match, party and channel; emits their signals.
func handle(m):
	var c = _client.get_ref()
	var t = m.type
	if t == Protocol.MSG_ANNOUNCE:
		c._emit1("announcement", m.text)
	elif t == Protocol.MSG_MATCH:
		queued = false
		last_match = {"outcome": m.outcome, "room_id": m.room_id, "team": m.team, "region": m.region, "waited_ms": m.waited_ms}
		if m.outcome == Protocol.MATCH_FOUND or m.outcome == Protocol.MATCH_BACKFILL:
			if m.room_id == c.room_id:
				c._emit1("match_found", last_match)
			else:
				_held = last_match
		else:
			c._emit1("match_ended", m.outcome)
	elif t == Protocol.MSG_PARTY:
		party = {"party_id": m.party_id, "code": m.code, "leader": m.leader, "members": m.members}
		c._emit1("party_changed", party)
	elif t == Protocol.MSG_CHANNEL:
		var info = {"name": m.name, "count": m.count, "members": m.members, "history": m.history}
		var p = _pending.get(m.rid, ["join_channel", m.name])
		_pending.erase(m.rid)
		if p[0] == "members":
			if channels.has(m.name):
				channels[m.name] = {"name": m.name, "count": m.count, "members": m.members}
			c._emit2("channel_members_received", m.rid, info)
		else:
			channels[m.name] = {"name": m.name, "count": m.count, "members": m.members}
			c._emit1("channel_joined", info)
