# How client.gd follows a redirect (PROTOCOL.md: a cluster's relay answers
# a join for a room on another node with the node's addresses and a seat
# token), as the Go client does. Apart from client.gd to keep it readable;
# it works on the client's own state. In the GDScript subset that both
# Godot 3.2+ and Godot 4.x accept.

const Protocol = preload("protocol.gd")

# client.gd's values (its constants are not reachable from here on both
# engines).
const STATUS_CONNECTING = 1
const DISCONNECT_LINK_LOST = -2
# Redirects one request may follow (as the Go client).
const MAX_REDIRECTS = 2

# A redirect (a cluster's relay answering a join for a room or a party on
# another node, or, with rid 0, placing a match there): leave this node (bye),
# connect to the named one over the same transport with a fresh hello, and
# take the seat with join_seat under the request's id, so that the game
# sees its request answered (room_joined). The player id changes (ids are
# given per node): redirected(player_id) instead of a second connected,
# once the new node welcomed the player. A redirect that cannot be followed
# is an error for the request (and, for a match's, match_ended).
static func follow(c, m, now):
	c._redirects += 1
	var why = ""
	var url = ""
	var ip = ""
	var port = 0
	if c._redirects > MAX_REDIRECTS:
		why = "redirected too many times"
	elif c._url != "":
		url = m.ws_url
		if not (url.begins_with("ws://") or url.begins_with("wss://")):
			why = "the relay redirected to a node without a WebSocket URL"
	else:
		var colon = m.kcp_addr.rfind(":")
		port = int(m.kcp_addr.substr(colon + 1, m.kcp_addr.length())) if colon > 0 else 0
		ip = m.kcp_addr.substr(0, colon).trim_prefix("[").trim_suffix("]") if colon > 0 else ""
		if ip != "" and not ip.is_valid_ip_address():
			ip = IP.resolve_hostname(ip)
		if ip == "" or port <= 0 or port > 65535:
			why = "cannot reach the node the relay redirected to: " + m.kcp_addr
	if why != "":
		c._redirects = 0
		var gen = c._gen
		c._emit3("error", m.rid, Protocol.CODE_BAD_REQUEST, why)
		if c._gen == gen:
			c.meeting.on_seat_lost()
		return
	c._link.send(c._proto.encode_bye())
	c._link.flush_now(now)
	c._close_link()
	c._gen += 1  # what the old node sent after the redirect is not read
	c._url = url
	c._ip = ip
	c._port = port
	var link = c._make_link()
	if link == null or link.open(now) != OK:
		c._end(DISCONNECT_LINK_LOST, "cannot connect to the node the relay redirected to")
		return
	c._link = link
	c._clear_room()
	c.status = STATUS_CONNECTING
	c._redirecting = true
	c._seat_rid = m.rid
	c._started_ms = now
	c._last_recv_ms = now
	var auth = c._opts["auth_token"]
	c._link.send(c._proto.encode_hello(str(c._opts["name"]), c._opts["props"], "" if auth == null else str(auth)))
	c._link.send(c._proto.encode_join_seat(m.rid, m.token))
	c._link.flush_now(now)
	# The party and channels stayed on the old node (last: a handler of
	# party_changed may send requests, which follow the hello). A party
	# this move joins, or one a match takes along, comes from the new node.
	c.meeting.moved()


# An ok from the relay: when it answers the seat a redirect was followed
# for (a party's place on its node), that redirect is done.
static func on_ok(c, m):
	if c._seat_rid >= 0 and m.rid == c._seat_rid:
		c._seat_rid = -1
		c._redirects = 0


# An error from the relay: the request's answer, and when it refuses the
# seat a redirect was followed for, the end of that redirect (and of the
# match that sent the player there, if it did).
static func on_error(c, m):
	var seat = c._seat_rid >= 0 and m.rid == c._seat_rid
	if seat:
		c._seat_rid = -1
		c._redirects = 0
	var gen = c._gen
	c._emit3("error", m.rid, m.code, m.message)
	if seat and c._gen == gen:
		c.meeting.on_seat_lost()
