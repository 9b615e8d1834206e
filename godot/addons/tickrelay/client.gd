# A tickrelay client: one connection to a relay server, with no Node. Drive
# it by calling poll() every frame (relay_node.gd does that from _process);
# everything it hears arrives as signals during poll(). In the GDScript subset
# that both Godot 3.2+ and Godot 4.x accept (see godot/README.md).
#
# Two transports carry the same messages; everything in this file (rooms,
# states, signals, resume) is shared, and the link is an object of its own:
# KCP over UDP (kcp_link.gd), natively, and WebSocket (websocket_link.gd,
# Godot 4 only, loaded at run time when used), in a web export, which has no
# UDP. The option `transport` forces one, `url` gives a ws:// or wss:// URL.
#
#     var client = preload("res://addons/tickrelay/client.gd").new()
#     client.connect_to_server("127.0.0.1", 7777, {"name": "ana"})
#     # connect signals, then every frame:
#     client.poll()
#
# Requests (create_room, join_room, ...) return a request id; the answer
# comes as a signal carrying it (room_joined, room_list, request_ok) or as
# error(request_id, code, message). Fire-and-forget messages (set_state,
# send_event, chat) return true when queued; a value that cannot be sent
# (not connected, over the server's size limit, not encodable) gives false
# and an error signal with request id 0 on the next poll(). Both may be used
# as soon as connect_to_server() returned OK: they follow the hello.
#
# The room view (players, master_id, locked, room_props) is kept up to date
# from the server's frames before the signals of each frame are emitted.
#
# Resume (PROTOCOL.md section 9, resume.gd): when the link dies after the
# welcome, the client emits reconnecting and resumes the session on a new
# link within resume_timeout_ms (same player id and room; the events and
# chat the lost link missed arrive once), then emits reconnected, or
# disconnected if the server refuses or time runs out. resume_now() starts
# a resume at once, for games that see the network change (Wi-Fi to
# mobile). Messages sent while reconnecting follow the resuming hello.

extends "room_view.gd"

const Protocol = preload("protocol.gd")
const KcpLink = preload("kcp_link.gd")
const Meeting = preload("meeting.gd")
const Redirect = preload("redirect.gd")
const Resume = preload("resume.gd")

# The connection is up: player_id is this player's id on the server.
signal connected(player_id)
# A relay of a cluster moved this player to another node (redirect.gd): it
# is player_id there. Its party and lobby channels stayed on the old node.
signal redirected(player_id)
# The connection ended. code: a server close code (PROTOCOL.md section 6),
# CODE_CLIENT_CLOSED after disconnect_from_server(), or a local reason below.
signal disconnected(code, reason)
# A request failed (request_id 0: an event, chat or a local refusal).
signal error(request_id, code, message)
# A request that has no other answer (set_room_props, set_player_props,
# set_locked, kick) succeeded.
signal request_ok(request_id)
# This player is now in room room_id, joinable by the 6-letter code. The
# players arrive with the next frame (player_joined for each, this player too).
signal room_joined(room_id, code)
# This player is no longer in a room: code 0 after leave_room(), 19 when kicked.
signal room_left(code)
# The answer to list_rooms: rooms is an Array of Dictionaries
# {room_id, mode, players, max_players, locked, props}.
signal room_list(request_id, rooms)
signal player_joined(id, player_name, props)
signal player_left(id)
signal master_changed(id)
signal locked_changed(locked)
signal room_props_changed(props)
signal player_props_changed(id, props)
# A member's connection was lost (connected false; it keeps its place while it
# may resume) or came back.
signal player_presence_changed(id, connected)
# A member's latest state, this player's own included; tick is the server
# tick of the frame that carried it.
signal state_received(id, value, tick)
# A reliable event, exactly once and in the server's order.
signal event_received(from, code, payload, tick)
# Room chat (to = 0) or a direct message (to = a player id; echoed to its
# sender). time_ms is the server's Unix time in ms.
signal chat_received(from, to, text, time_ms)
# A ping's round trip in ms, without the time it waited in the server.
signal pong(rtt_ms)
# The link was lost after the welcome (code and reason as for disconnected):
# the client is resuming the session on a new connection. The room view
# stays as it was; messages sent meanwhile are queued.
signal reconnecting(code, reason)
# The session was resumed: same player id, same room. The full frame that
# follows replaces the room view and delivers what the lost link missed.
signal reconnected()
# The meeting place (meeting.gd): an operator's message to every player; a
# match formed (info: outcome, room_id, team, region, waited_ms; the player
# is in the room: room_joined came first) or a queue ticket ended without
# one (outcome 1 timed out, 2 cancelled); this player's party changed
# (party_id 0: in no party); a lobby channel joined (info: name, count,
# members, history [[from, name, server_time_ms, text], ...]), or its
# members listed; a line in a lobby channel.
signal announcement(text)
signal match_found(info)
signal match_ended(outcome)
signal party_changed(party)
signal channel_joined(info)
signal channel_members_received(request_id, info)
signal channel_message(channel, from_id, from_name, text)
# A peer packet from another member (Godot's multiplayer API; see
# tickrelay_multiplayer_peer.gd): mode Protocol.PEER_*, data bytes.
signal peer_packet_received(from, mode, channel, data)

const STATUS_DISCONNECTED = 0
const STATUS_CONNECTING = 1
const STATUS_CONNECTED = 2
const STATUS_RECONNECTING = 3  # the link was lost; resuming on a new one

# Local disconnect reasons (server close codes are positive).
const DISCONNECT_TIMEOUT = -1  # no welcome within timeout_ms
const DISCONNECT_LINK_LOST = -2  # KCP gave up on a segment, or silence for link_timeout_ms
const DISCONNECT_PROTOCOL = -3  # the server sent something this client cannot decode
# Local error code (error signal): the message was not sent (not connected,
# not encodable, or over a server limit; the message says which).
const ERROR_NOT_SENT = -10

const CODE_CLIENT_CLOSED = 22

# Values of the option `transport`.
const TRANSPORT_AUTO = "auto"  # WebSocket in a web export, else KCP over UDP
const TRANSPORT_KCP = "kcp"
const TRANSPORT_WEBSOCKET = "websocket"

const DEFAULT_OPTIONS = {
	"name": "",
	"props": null,
	"auth_token": "",
	"timeout_ms": 5000,
	"link_timeout_ms": 10000,
	"ping_interval_ms": 1000,
	"mtu": 1200,
	"window": 128,
	"recv_buffer_bytes": 1 << 20,
	"max_frame_bytes": 4 << 20,
	"max_state_bytes": 1024,
	"max_payload_bytes": 1024,
	"max_chat_bytes": 256,
	"linger_ms": 500,
	"conv": 0,
	"auto_resume": true,
	"resume_timeout_ms": 10000,
	"resume_attempts": 4,
	"max_queued_while_resuming": 1024,
	"decode_states": true,
	"state_per_tick": true,
	"coalesce_sends": true,
	"transport": TRANSPORT_AUTO,
	"url": "",
	"tls_options": null,
	"websocket_buffer_bytes": 1 << 16,
}

var status = STATUS_DISCONNECTED
var player_id = 0
var resume_token = ""
# Frames per second of the server, from the welcome.
var tick_rate = 0
# The last measured round trip, and a smoothed one (ms).
var rtt_ms = 0.0
var srtt_ms = 0.0

# Counters: frames, messages, datagrams and bytes each way.
var stats = {}

# The link of this connection (kcp_link.gd or websocket_link.gd), null when
# there is none (disconnected, or between two resume attempts).
var _link = null
# resume_now(): the link that still works, kept open (and unread) until the
# resume is over, so that the relay sees no break before the new one takes
# over.
var _old_link = null
var _time = null  # Godot 4's Time singleton; null on Godot 3.2
var _opts = {}
var _lingering = false  # closed, but still delivering the bye
var _linger_until = 0
var _started_ms = 0
var _last_recv_ms = 0
var _next_ping_ms = 0
var _rid = 0
var _local_errors = []  # [request_id, code, message] for the next poll
var _state_dirty = false
var _pending_state = null
# The server tick of the last frame seen when this player's state was last
# sent, and when (ms): with state_per_tick, the next state waits for a newer
# frame.
var _state_sent_tick = -1
var _state_sent_ms = 0
var _last_poll_us = 0  # when poll() last ran
var _offset_ms = 0.0  # estimated server Unix ms minus local ms
var _offset_set = false
var _tmp
# Where the link goes, for resuming: the server's address and port (KCP),
# or its URL (WebSocket).
var _ip = ""
var _port = 0
var _url = ""
var _resume_pending = false  # resume_now() was called: resume on the next poll
var _resume_deadline = 0  # while reconnecting: give up at this time (ms)
var _resume_attempt = 0  # attempts made so far
var _next_attempt_ms = 0  # when the current attempt is abandoned for a new one
var _resume_why = []  # [code, reason] the link was lost for
var _resume_queue = []  # frames sent while reconnecting, resent by each attempt
var _redirects = 0  # redirects followed for the current request
var _redirecting = false  # a fresh hello went to the node a redirect named
var _seat_rid = -1  # the request id of the join_seat awaiting its answer; -1: none
# The matchmaker's queue, parties and lobby chat (meeting.gd).
var meeting


func _init():
	if Engine.has_singleton("Time"):
		_time = Engine.get_singleton("Time")
	_proto = Protocol.new()
	_tmp = StreamPeerBuffer.new()
	meeting = Meeting.new(self)
	_reset_stats()


# ---------------------------------------------------------------- connection

# Starts connecting to a relay. Options (all optional): name, props (player
# properties), auth_token, timeout_ms (for the welcome, default 5000),
# link_timeout_ms (silence that ends the link, 10000), ping_interval_ms (1000),
# transport ("auto": WebSocket in a web export, KCP over UDP elsewhere;
# "kcp" or "websocket" to choose), url (a ws:// or wss:// URL: WebSocket to
# it, host and port unused; default ws://host:port/), tls_options (Godot 4's
# TLSOptions for wss:// outside a browser; null: the system's certificates),
# websocket_buffer_bytes (64 KiB: WebSocket messages past it wait in a queue),
# mtu (1200), window (KCP windows, 128), recv_buffer_bytes (1 MiB, the UDP
# socket's), max_frame_bytes (4 MiB), max_state_bytes / max_payload_bytes
# (1024) and max_chat_bytes (256): the server's limits, checked before sending;
# auto_resume (true: resume the session when the link dies after the
# welcome), resume_timeout_ms (10000: keep below the server's resume grace,
# 15 s by default), resume_attempts (4: new connections tried within it),
# max_queued_while_resuming (1024 messages), decode_states (true; false: state
# values, this player's echoed one too, stay msgpack bytes in state_received
# and players[id].state until given to decode_state(), which saves most of
# the decoding for a game that reads only some states; an interpolator still
# receives decoded values), state_per_tick (true: this player's state is sent
# at most once per server tick, see set_state(); false: at every poll),
# coalesce_sends (true: at two polls or more per tick, a frame's acks and
# the state go out together at the poll after the frame's, see _defer_flush()).
# Returns OK, or an error without signals: ERR_ALREADY_IN_USE (not
# disconnected), ERR_INVALID_PARAMETER (props msgpack cannot encode, or an
# unknown transport or URL), ERR_UNAVAILABLE (WebSocket on Godot 3),
# ERR_CANT_RESOLVE, ERR_CANT_CREATE (the socket; a web export has no UDP).
# After OK, connected or disconnected follows.
func connect_to_server(host, port, options = {}):
	if status != STATUS_DISCONNECTED:
		return ERR_ALREADY_IN_USE
	_close_link()
	_close_old_link()
	_opts = {}
	for k in DEFAULT_OPTIONS:
		_opts[k] = options.get(k, DEFAULT_OPTIONS[k])
	var auth = _opts["auth_token"]
	if auth == null:
		auth = ""
	var hello = _proto.encode_hello(str(_opts["name"]), _opts["props"], str(auth))
	if hello.size() == 0:
		push_warning("tickrelay: cannot encode the hello: " + _proto.error)
		return ERR_INVALID_PARAMETER
	var err = _choose_target(str(host), int(port))
	if err != OK:
		return err
	_proto.max_frame_bytes = _opts["max_frame_bytes"]
	_proto.lazy_states = not _opts["decode_states"]
	_reset_stats()
	var link = _make_link(_opts["conv"])
	if link == null:
		return ERR_UNAVAILABLE
	var now = _now_ms()
	err = link.open(now)
	if err != OK:
		return err
	_link = link
	_clear_room()
	player_id = 0
	resume_token = ""
	tick_rate = 0
	server_tick = 0
	rtt_ms = 0.0
	srtt_ms = 0.0
	_offset_set = false
	_state_dirty = false
	_pending_state = null
	_state_sent_tick = -1
	_acked_tick = 0
	_resume_pending = false
	_resume_queue = []
	_redirecting = false
	_seat_rid = -1
	meeting.reset()
	_started_ms = now
	_last_recv_ms = now
	status = STATUS_CONNECTING
	_link.send(hello)
	_link.flush_now(now)
	return OK


# The transport the options ask for: "kcp" or "websocket".
func transport():
	var t = str(_opts.get("transport", TRANSPORT_AUTO))
	if str(_opts.get("url", "")) != "":
		return TRANSPORT_WEBSOCKET
	if t == TRANSPORT_AUTO or t == "":
		return TRANSPORT_WEBSOCKET if OS.has_feature("web") else TRANSPORT_KCP
	return t


# Sets where links go (_ip and _port, or _url) from host, port and the
# options; on an error, nothing.
func _choose_target(host, port):
	_url = ""
	_ip = ""
	_port = port
	var t = transport()
	if t == TRANSPORT_WEBSOCKET:
		var url = str(_opts["url"])
		if url == "":
			if host == "" or port <= 0 or port > 65535:
				return ERR_INVALID_PARAMETER
			# The relay serves WebSocket on its UDP port number, over TCP.
			url = "ws://%s:%d/" % ["[" + host + "]" if host.find(":") >= 0 else host, port]
		if not (url.begins_with("ws://") or url.begins_with("wss://")):
			return ERR_INVALID_PARAMETER
		_url = url
		return OK
	if t != TRANSPORT_KCP:
		return ERR_INVALID_PARAMETER
	var ip = host
	if not host.is_valid_ip_address():
		ip = IP.resolve_hostname(host)
		if ip == "":
			return ERR_CANT_RESOLVE
	_ip = ip
	return OK


# A link (not yet open) to where _choose_target() pointed; null when the
# transport is not available here (WebSocket on Godot 3).
func _make_link(conv = 0):
	var link
	if _url != "":
		if Engine.get_version_info()["major"] < 4:
			return null
		# Loaded here, not preloaded: websocket_link.gd is Godot 4 only, and
		# Godot 3 must never parse it.
		var script = load(get_script().resource_path.get_base_dir() + "/websocket_link.gd")
		if script == null:
			return null
		link = script.new(_proto, _url, _opts)
	else:
		link = KcpLink.new(_proto, _ip, _port, _opts, conv)
	link.stats = stats
	return link


# Says bye to the server and closes. Emits disconnected(CODE_CLIENT_CLOSED)
# at once; the bye is still retransmitted by poll() for up to linger_ms
# (keep calling poll(), as the autoload does). While reconnecting, the bye
# follows the resuming hello, so that the server lets the player go at once.
func disconnect_from_server():
	if status == STATUS_DISCONNECTED:
		return
	_bye(CODE_CLIENT_CLOSED, "disconnected by the client")


# Sends bye, lingers to deliver it, and emits disconnected(code, reason).
func _bye(code, reason):
	if _link == null:
		_end(code, reason)
		return
	var now = _now_ms()
	_link.send(_proto.encode_bye())
	_link.flush_now(now)
	# Linger first: a disconnected handler may connect again, which closes
	# this link for good.
	_lingering = true
	_linger_until = now + _opts["linger_ms"]
	_end(code, reason)


# Resumes the session on a new connection now (a new socket, so a new source
# port), without waiting for the link to be found dead: for a game that knows
# its network changed. Takes effect in the next poll(): reconnecting, then
# reconnected or disconnected follow. While reconnecting, it abandons the
# current attempt for a new one. Returns OK, or ERR_UNAVAILABLE when there is
# no session to resume (not connected yet, or disconnected).
func resume_now():
	if (status != STATUS_CONNECTED and status != STATUS_RECONNECTING) or resume_token == "":
		return ERR_UNAVAILABLE
	_resume_pending = true
	return OK


func is_connected_to_server():
	return status == STATUS_CONNECTED


func is_reconnecting():
	return status == STATUS_RECONNECTING


# Messages that may not have arrived yet: 0 when everything sent has. Over
# KCP, segments (messages, or parts of large ones) queued or in flight that
# the server has not acknowledged; over WebSocket, which has no
# acknowledgements, messages still waiting on this side (queued, or bytes
# the browser has not sent yet).
func unacked_messages():
	return 0 if _link == null else _link.unacked()


# True while the link's socket is open: connecting, connected, resuming (but
# not between two attempts), or delivering the bye after
# disconnect_from_server().
func is_socket_open():
	return _link != null and _link.is_open()


# Where the link goes: "udp://IP:PORT (KCP)" or the WebSocket URL ("" before
# connecting).
func link_description():
	return "" if _link == null else _link.describe()


# Reads the network, updates the room view and emits signals, sends the
# pending state and pings, and detects a dead link. Call it every frame.
func poll():
	if _link == null:
		if _emit_local_errors(_gen) and status == STATUS_RECONNECTING:
			Resume.poll(self, _now_ms())  # between attempts, or no socket could be opened
		return
	var now_us = _now_usec()
	var now = now_us / 1000
	var poll_dt_us = now_us - _last_poll_us
	_last_poll_us = now_us
	if _lingering:
		_linger(now)
		return
	var got = _link.receive(now_us)
	if got > 0:
		_last_recv_ms = now
	elif got < 0:
		if status == STATUS_CONNECTED:
			Resume.link_lost(self, _link_error(got), now)
			return
		if status == STATUS_RECONNECTING:
			_close_link()  # this attempt failed; the next one opens a new link
			return
		if status == STATUS_CONNECTING and got == -2:
			_fail(DISCONNECT_LINK_LOST, _link_error(got))
			return
	var gen = _gen
	# Without a datagram nothing new can be complete (each poll takes every
	# complete message): a poll between two frames skips the readers.
	if got > 0:
		while true:
			var m = _link.next_message()
			if m == null:
				break
			stats["messages_in"] += 1
			_handle(m, now_us)
			if _gen != gen:
				return  # a signal handler ended (or replaced) the connection
	if _local_errors.size() > 0 and not _emit_local_errors(gen):
		return
	var defer = false
	if status == STATUS_CONNECTING:
		if now - _started_ms >= _opts["timeout_ms"]:
			_fail(DISCONNECT_TIMEOUT, "no welcome from the server within %d ms" % _opts["timeout_ms"])
			return
	elif status == STATUS_CONNECTED:
		if _resume_pending:
			Resume.begin(self, DISCONNECT_LINK_LOST, "resume_now() was called", now, true)
			return
		defer = _defer_flush(now, poll_dt_us)
		if not defer:
			if _state_dirty and room_id != 0 and _state_due(now):
				_send_state(now)
			if now >= _next_ping_ms:
				_next_ping_ms = now + _opts["ping_interval_ms"]
				_send(_proto.encode_ping(now_us, _acked_tick))
		if now - _last_recv_ms >= _opts["link_timeout_ms"]:
			Resume.link_lost(self, "nothing received for %d ms" % (now - _last_recv_ms), now)
			return
		if _link.dead_reason() != "":
			Resume.link_lost(self, _link.dead_reason(), now)
			return
	elif status == STATUS_RECONNECTING:
		if not Resume.poll(self, now):
			return
	if status == STATUS_CONNECTING and _link.dead_reason() != "":
		_fail(DISCONNECT_LINK_LOST, _link.dead_reason())
		return
	if not _link.flush(now, defer):
		if status == STATUS_CONNECTED:
			Resume.link_lost(self, "the socket cannot send", now)
		elif status == STATUS_RECONNECTING:
			_close_link()  # this attempt failed; the next one opens a new link


# Why receive() said the link failed.
func _link_error(got):
	var why = _link.dead_reason()
	if why != "":
		return why
	if got == -2:
		return "the connection to %s was closed" % _link.describe()
	# Typically the server's port is closed (an ICMP port unreachable came
	# back).
	return "the socket reported an error"


# ---------------------------------------------------------------- requests

# options: mode (""), max_players (0: the server's default), public (true:
# listed and matched; false: joined by code only), props (null).
func create_room(options = {}):
	var rid = _next_rid()
	return _request(rid, _proto.encode_create_room(rid, options.get("mode", ""), options.get("max_players", 0),
		options.get("public", true), options.get("props", null)))


# Joins a public room by its id.
func join_room(id):
	var rid = _next_rid()
	return _request(rid, _proto.encode_join_room(rid, id))


# Joins any room by its 6-character code (case-insensitive).
func join_by_code(code):
	var rid = _next_rid()
	return _request(rid, _proto.encode_join_code(rid, code))


# Lists public rooms with players: mode "" for all, filter a props Dictionary
# (rooms whose properties contain it) or null, limit 0 for the server's max.
func list_rooms(mode = "", filter = null, limit = 0):
	var rid = _next_rid()
	return _request(rid, _proto.encode_list_rooms(rid, mode, filter, limit))


# Quick match: joins the fullest open public room of this mode whose
# properties contain props, or creates one (and becomes its master).
func join_or_create(mode, props = null, max_players = 0):
	var rid = _next_rid()
	return _request(rid, _proto.encode_join_or_create(rid, mode, props, max_players))


func leave_room():
	var rid = _next_rid()
	return _request(rid, _proto.encode_leave_room(rid))


# Merges props into the room's properties (master only); a null value deletes.
func set_room_props(props):
	var rid = _next_rid()
	return _request(rid, _proto.encode_set_room_props(rid, props))


# Merges props into this player's properties; a null value deletes.
func set_player_props(props):
	var rid = _next_rid()
	return _request(rid, _proto.encode_set_player_props(rid, props))


func set_locked(value):
	var rid = _next_rid()
	return _request(rid, _proto.encode_set_locked(rid, value))


func kick(id):
	var rid = _next_rid()
	return _request(rid, _proto.encode_kick(rid, id))


# ---------------------------------------------------------------- messages

# Sets this player's state (any msgpack-encodable value: numbers, strings,
# Vector2/3, Color, Arrays, Dictionaries, byte arrays). It is sent by a later
# poll() while in a room, the latest value set (encoded when sent): with the
# option state_per_tick (default true) at most once per server tick, once a
# frame of a newer tick arrived (see _state_due()); without it, at the next
# poll.
func set_state(value):
	_pending_state = value
	_state_dirty = true


# A reliable event: target Protocol.TARGET_ALL (0, sender included),
# TARGET_OTHERS (1), TARGET_LIST (2, the players in ids) or TARGET_MASTER (3).
func send_event(target, code, payload = null, ids = null):
	if not _can_send("event"):
		return false
	if payload != null:
		var n = _proto.mp.encode(payload).size()
		if _proto.mp.error != "":
			return _refuse("event payload: " + _proto.mp.error)
		if n > _opts["max_payload_bytes"]:
			return _refuse("event payload of %d bytes is over the %d-byte limit" % [n, _opts["max_payload_bytes"]])
	if target == Protocol.TARGET_LIST and ids == null:
		ids = []
	if target != Protocol.TARGET_LIST:
		ids = null
	return _send_checked(_proto.encode_event(target, code, payload, ids), "event")


# A chat line to the room.
func chat(text):
	return direct_message(0, text)


# A chat line to one player anywhere on the server (to = 0: the room).
func direct_message(to, text):
	if not _can_send("chat"):
		return false
	var n = _utf8_len(text)
	if n > _opts["max_chat_bytes"]:
		return _refuse("chat text of %d bytes is over the %d-byte limit" % [n, _opts["max_chat_bytes"]])
	return _send_checked(_proto.encode_chat(to, text), "chat")


# ---------------------------------------------------------------- clock

# The server's Unix time in ms, estimated from pongs (float).
func estimated_server_time_ms():
	return _now_usec() / 1000.0 + _offset_ms


# The server tick now, as a float: tick n starts at n / tick_rate seconds.
# Interpolation renders a little behind it.
func estimated_server_tick():
	if tick_rate <= 0:
		return server_tick * 1.0
	return _tick_base + (estimated_server_time_ms() - _tick_base_ms) * tick_rate / 1000.0


# Local monotonic clock in ms (the clock every *_ms time here uses).
func now_ms():
	return _now_ms()


static func code_name(code):
	if code == DISCONNECT_TIMEOUT:
		return "timeout"
	if code == DISCONNECT_LINK_LOST:
		return "link_lost"
	if code == DISCONNECT_PROTOCOL:
		return "protocol_error"
	if code == ERROR_NOT_SENT:
		return "not_sent"
	return Protocol.code_name(code)


# ---------------------------------------------------------------- internals

func _now_usec():
	if _time != null:
		return _time.get_ticks_usec()
	return OS.call("get_ticks_usec")


func _now_ms():
	return _now_usec() / 1000


func _reset_stats():
	stats = {"frames": 0, "messages_in": 0, "messages_out": 0, "datagrams_in": 0, "datagrams_out": 0,
		"bytes_in": 0, "bytes_out": 0, "states_sent": 0, "conv": 0, "resumes": 0, "resume_attempts": 0,
		"unacked_at_loss": 0}


func _next_rid():
	_rid = (_rid % 0xFFFFFFFF) + 1
	return _rid


# Requests and messages may be sent while connecting: they follow the hello.
func _request(rid, frame):
	if status == STATUS_DISCONNECTED:
		_local_errors.append([rid, ERROR_NOT_SENT, "not connected"])
	elif status == STATUS_RECONNECTING and _resume_queue.size() >= _opts["max_queued_while_resuming"]:
		_local_errors.append([rid, ERROR_NOT_SENT, "too many messages queued while reconnecting"])
	elif frame.size() == 0:
		_local_errors.append([rid, ERROR_NOT_SENT, _proto.error])
	else:
		_send(frame)
	return rid


func _can_send(what):
	if status == STATUS_DISCONNECTED:
		_local_errors.append([0, ERROR_NOT_SENT, what + ": not connected"])
		return false
	if status == STATUS_RECONNECTING and _resume_queue.size() >= _opts["max_queued_while_resuming"]:
		_local_errors.append([0, ERROR_NOT_SENT, what + ": too many messages queued while reconnecting"])
		return false
	return true


func _refuse(why):
	_local_errors.append([0, ERROR_NOT_SENT, why])
	return false


func _send_checked(frame, what):
	if frame.size() == 0:
		return _refuse(what + ": " + _proto.error)
	_send(frame)
	return true


func _send(frame):
	if frame.size() == 0:
		return
	if status == STATUS_RECONNECTING:
		# Every attempt sends it after its hello, until one is welcomed.
		_resume_queue.append(frame)
	if _link == null:
		return
	_link.send(frame)
	stats["messages_out"] += 1


# Emits the errors of requests that were not sent; false if a handler ended
# the connection.
func _emit_local_errors(gen):
	if _local_errors.size() == 0:
		return true
	var errs = _local_errors
	_local_errors = []
	for e in errs:
		_emit3("error", e[0], e[1], e[2])
		if _gen != gen:
			return false
	return true


# With state_per_tick (the default), the state is sent at most once per
# server tick: at the first poll after a frame of a newer tick than the one
# seen at the last send (the server keeps only the latest state of each
# tick, so a second one in the same tick would be overwritten unseen). It
# goes in the datagram that acknowledges that frame: at the frame's poll, or
# at the next one with coalesce_sends (see _defer_flush()). Without a frame
# for two ticks it does not wait for one.
func _state_due(now):
	if not _opts["state_per_tick"] or tick_rate <= 0:
		return true
	if server_tick != _state_sent_tick:
		return true
	return now - _state_sent_ms >= 2000 / tick_rate


# With coalesce_sends (the default), a poll that applied what arrived and has
# nothing to send but its acks (no message queued, no ping or retransmission
# due) leaves them, and this player's state, to the next poll, when polls
# come at least about twice per server tick: one datagram then carries the
# acks and the state, and the poll that decoded a frame does no encoding and
# no socket write. Acks wait one poll at most (under 0.55 of a tick), and
# the state goes out later in the tick, so it is fresher when the tick takes
# it. The relay sees the round trip longer by that wait.
func _defer_flush(now, poll_dt_us):
	if not _opts["coalesce_sends"] or not _opts["state_per_tick"] or tick_rate <= 0:
		return false
	if poll_dt_us * tick_rate > 550000 or now >= _next_ping_ms:
		return false
	return _link.can_defer(now)


func _send_state(now):
	_state_dirty = false
	_state_sent_tick = server_tick
	_state_sent_ms = now
	var frame = _proto.encode_state(_pending_state)
	if frame.size() == 0:
		_refuse("state: " + _proto.error)
		return
	# The frame is 4 length bytes, the array and type bytes, then the value.
	var n = frame.size() - 6
	if n > _opts["max_state_bytes"]:
		_refuse("state of %d bytes is over the %d-byte limit" % [n, _opts["max_state_bytes"]])
		return
	_send(frame)
	stats["states_sent"] += 1


func _utf8_len(s):
	_tmp.clear()
	_tmp.put_utf8_string(s)
	var n = _tmp.get_size() - 4
	_tmp.clear()
	return n


# After a bye: keep delivering it until it is acked (or, over WebSocket,
# sent and the socket closed) or linger_ms passes.
func _linger(now):
	if _link.linger(now) or now >= _linger_until:
		_close_link()


# Closes the link without a word.
func _close_link():
	if _link != null:
		_link.close()
	_link = null
	_lingering = false


# Closes the link that resume_now() kept open.


func _close_old_link():
	if _old_link != null:
		_old_link.close()
	_old_link = null


# Ends the connection and emits disconnected.
func _end(code, reason):
	status = STATUS_DISCONNECTED
	_gen += 1
	_resume_pending = false
	_resume_queue = []
	_close_old_link()
	_clear_room()
	_emit2("disconnected", code, reason)


# Ends the connection at once (after acking what arrived) and emits disconnected.
func _fail(code, reason):
	if _link != null and _link.is_open():
		_link.flush_now(_now_ms())
	_close_link()
	_end(code, reason)


func _handle(m, now_us):
	if not m.ok:
		_fail(DISCONNECT_PROTOCOL, "bad message from the server: " + m.error)
		return
	var t = m.type
	if t == Protocol.MSG_FRAME:
		stats["frames"] += 1
		_apply_frame(m)
	elif t == Protocol.MSG_PONG:
		_on_pong(m, now_us)
	elif t == Protocol.MSG_OK:
		Redirect.on_ok(self, m)
		meeting.on_reply(t, m.rid)
		_emit1("request_ok", m.rid)
	elif t == Protocol.MSG_ERROR:
		meeting.on_reply(t, m.rid)
		Redirect.on_error(self, m)
	elif t >= Protocol.MSG_ANNOUNCE and t <= Protocol.MSG_CHANNEL:
		meeting.handle(m)
	elif t == Protocol.MSG_REDIRECT:
		Redirect.follow(self, m, now_us / 1000)
	elif t == Protocol.MSG_ROOM_JOINED:
		_redirects = 0
		_seat_rid = -1
		var gen = _gen
		_clear_room()
		room_id = m.room_id
		room_code = m.code
		room_mode = m.mode
		room_max_players = m.max_players
		_emit2("room_joined", m.room_id, m.code)
		if _gen == gen and _state_dirty == false and _pending_state != null:
			_state_dirty = true  # the new room gets this player's state
		if _gen == gen:
			meeting.on_room_joined(m.room_id)
	elif t == Protocol.MSG_ROOM_LEFT:
		_clear_room()
		_emit1("room_left", m.code)
	elif t == Protocol.MSG_ROOM_LIST:
		_emit2("room_list", m.rid, m.rooms)
	elif t == Protocol.MSG_WELCOME:
		if status == STATUS_RECONNECTING:
			Resume.on_resumed(self, m, now_us)
			return
		if status != STATUS_CONNECTING:
			return
		status = STATUS_CONNECTED
		var fresh = not _redirecting
		_redirecting = false
		player_id = m.player_id
		resume_token = m.resume_token
		tick_rate = m.tick_rate
		if _link != null:
			_link.set_tick_rate(tick_rate)
		server_tick = m.tick
		_tick_base = m.tick
		_tick_base_ms = m.server_time_ms
		_offset_ms = m.server_time_ms - now_us / 1000.0
		_next_ping_ms = 0  # ping at once: the first round trip sets the clock
		_emit1("connected" if fresh else "redirected", m.player_id)
	elif t == Protocol.MSG_CLOSE:
		# The server timed this link out while the client still hears it (it
		# was suspended, or its datagrams stopped getting through): the
		# player is kept for a resume.
		if m.code == Protocol.CODE_IDLE_TIMEOUT and status == STATUS_CONNECTED and _opts.get("auto_resume", false) and resume_token != "":
			Resume.begin(self, m.code, m.reason, now_us / 1000)
			return
		_fail(m.code, m.reason)


func _on_pong(m, now_us):
	var rtt = (now_us - m.client_time) / 1000.0 - m.hold_us / 1000.0
	if rtt < 0.0:
		rtt = 0.0
	rtt_ms = rtt
	srtt_ms = rtt if srtt_ms == 0.0 else srtt_ms + (rtt - srtt_ms) * 0.125
	# The server's clock when the pong left it, seen half a round trip later.
	var sample = m.server_time_ms + rtt / 2.0 - now_us / 1000.0
	if not _offset_set:
		_offset_ms = sample
		_offset_set = true
	else:
		_offset_ms += (sample - _offset_ms) * 0.2
	_emit1("pong", rtt)


# ---------------------------------------------------------------- meeting place
# The matchmaker's queue, parties and lobby chat: see meeting.gd. Requests
# return their request id (answered by request_ok or error).

# Queues this player (its party, if it leads one) for a match of mode:
# regions (Array, most preferred first; null: any), skill (the game's
# rating), props (null, or a map that must be equal among the players).
# match_found follows (after room_joined), or match_ended.
func queue_join(mode, regions = null, skill = 0.0, props = null):
	return meeting.queue_join(mode, regions, skill, props)


func queue_leave():
	return meeting.queue_leave()


# Master only: asks the matchmaker to fill open seats (the team of each).
func request_backfill(teams):
	return meeting.request_backfill(teams)


func create_party():
	return meeting.create_party()


func join_party(code):
	return meeting.join_party(code)


func leave_party():
	return meeting.leave_party()


# This player's party: {party_id, code, leader, members [[id, name], ...]}.
func get_party():
	return meeting.party


func join_channel(name):
	return meeting.join_channel(name)


func leave_channel(name):
	return meeting.leave_channel(name)


func channel_members(name):
	return meeting.channel_members(name)


# A line to a lobby channel ("party": this player's party); true when queued.
func say(channel, text):
	return meeting.say(channel, text)


# A peer packet (PROTOCOL.md 4.20; what tickrelay_multiplayer_peer.gd sends):
# to 0 every other member, id one member, -id all but that one; mode
# Protocol.PEER_*; channel 0-255; data bytes. True when queued.
func send_peer_packet(to, mode, channel, data):
	if not _can_send("peer_packet"):
		return false
	return _send_checked(_proto.encode_peer_packet(to, mode, channel, data), "peer_packet")
