# The decoders of protocol.gd for the meeting place's server messages
# (PROTOCOL.md 5.7-5.11: announce, match, party, channel) and clusters'
# redirect, kept apart so that protocol.gd stays readable. protocol.gd calls
# decode() for these types with the generically decoded array; the result
# has "ok", "type", "error" and the fields below, or ok = false. In the
# GDScript subset that both Godot 3.2+ and Godot 4.x accept.
#
#   announce  text, server_time_ms
#   match     outcome (0 found, 1 timed out, 2 cancelled, 3 backfill),
#             room_id, team, region, waited_ms
#   party     party_id (0: in no party), code, leader, members [[id, name], ...]
#   channel   rid, name, count, members [[id, name], ...],
#             history [[from, name, server_time_ms, text], ...] (oldest first)
#   redirect  rid, node, kcp_addr ("host:port"), ws_url, token

const MSG_ANNOUNCE = 35
const MSG_MATCH = 36
const MSG_PARTY = 37
const MSG_CHANNEL = 38
const MSG_REDIRECT = 39


static func handles(t):
	return t >= MSG_ANNOUNCE and t <= MSG_REDIRECT


# p: the protocol.gd object (for its type checks); a: the message array.
static func decode(p, t, a):
	if t == MSG_ANNOUNCE:
		if a.size() < 3 or typeof(a[1]) != TYPE_STRING or typeof(a[2]) != TYPE_INT:
			return p._bad(t, "announce: want [35, text, server_time_ms]")
		return {"ok": true, "type": t, "error": "", "text": a[1], "server_time_ms": a[2]}
	if t == MSG_MATCH:
		if a.size() < 6 or not (_ints(a, 1, 4) and typeof(a[4]) == TYPE_STRING and typeof(a[5]) == TYPE_INT):
			return p._bad(t, "match: want [36, outcome, room_id, team, region, waited_ms]")
		return {"ok": true, "type": t, "error": "", "outcome": a[1], "room_id": a[2], "team": a[3], "region": a[4], "waited_ms": a[5]}
	if t == MSG_PARTY:
		if a.size() < 5 or not (typeof(a[1]) == TYPE_INT and typeof(a[2]) == TYPE_STRING and typeof(a[3]) == TYPE_INT and _members(p, a[4])):
			return p._bad(t, "party: want [37, party_id, code, leader, [[id, name], ...]]")
		return {"ok": true, "type": t, "error": "", "party_id": a[1], "code": a[2], "leader": a[3], "members": a[4]}
	if t == MSG_CHANNEL:
		if a.size() < 6 or not (typeof(a[1]) == TYPE_INT and typeof(a[2]) == TYPE_STRING and typeof(a[3]) == TYPE_INT and _members(p, a[4])):
			return p._bad(t, "channel: want [38, rid, name, count, members, history]")
		if not p._is_rows(a[5], 4):
			return p._bad(t, "channel: history must be [[from, name, server_time_ms, text], ...]")
		for l in a[5]:
			if not (typeof(l[1]) == TYPE_STRING and typeof(l[2]) == TYPE_INT and typeof(l[3]) == TYPE_STRING):
				return p._bad(t, "channel: history must be [[from, name, server_time_ms, text], ...]")
		return {"ok": true, "type": t, "error": "", "rid": a[1], "name": a[2], "count": a[3], "members": a[4], "history": a[5]}
	if t == MSG_REDIRECT:
		if a.size() < 6 or not (_ints(a, 1, 3) and typeof(a[3]) == TYPE_STRING and typeof(a[4]) == TYPE_STRING and typeof(a[5]) == TYPE_STRING):
			return p._bad(t, "redirect: want [39, rid, node, kcp_addr, ws_url, token]")
		return {"ok": true, "type": t, "error": "", "rid": a[1], "node": a[2], "kcp_addr": a[3], "ws_url": a[4], "token": a[5]}
	return {"ok": true, "type": t, "error": "", "unknown": true}


# a[from] .. a[to - 1] are integers.
static func _ints(a, from, to):
	for i in range(from, to):
		if typeof(a[i]) != TYPE_INT:
			return false
	return true


# [[id, name], ...]
static func _members(p, list):
	if not p._is_rows(list, 2):
		return false
	for m in list:
		if typeof(m[1]) != TYPE_STRING:
			return false
	return true
