# The WebSocket link of client.gd (Godot 4 only: WebSocketPeer): what a web
# export uses, since a browser has no UDP. client.gd loads this file at run
# time, only when a connection uses WebSocket, so that Godot 3 never parses
# it. Same interface as kcp_link.gd (see there).
#
# Framing (the relay serves WebSocket on its UDP port number, over TCP, at
# path "/"): each binary WebSocket message carries exactly one protocol
# message body: the msgpack messages of PROTOCOL.md without the 4-byte
# length prefix, since WebSocket keeps message boundaries. The relay refuses
# text messages, and sends none: a text message from it is a protocol error.
# The relay may send its `close` message and then close the WebSocket.
#
# WebSocket is reliable and ordered like KCP, so everything above the link
# (rooms, states, resume) is the same. A send past the socket's outbound
# buffer fails in WebSocketPeer (ERR_OUT_OF_MEMORY): messages wait in a
# queue here instead, and go out in order as the browser drains its buffer;
# none is dropped.
extends RefCounted

# The counters of client.gd (datagrams_* count WebSocket messages here).
var stats = {}
var ws = null  # the WebSocketPeer (tests give a stand-in)
# Messages (bodies, without the length prefix) waiting for room in the
# socket's outbound buffer, oldest first.
var queue: Array = []

var _proto
var _url := ""
var _tls = null  # TLSOptions for wss:// outside a browser; null: the default
var _max_message := 4 << 20
var _out_buffer := 1 << 16
var _closing := false  # linger(): the close handshake was started
var _messages: Array = []  # decoded messages not yet taken by next_message()


func _init(proto, url: String, opts: Dictionary) -> void:
	_proto = proto
	_url = url
	_tls = opts.get("tls_options", null)
	_max_message = int(opts.get("max_frame_bytes", 4 << 20))
	# Client messages are at most 16 KiB: the buffer holds several.
	_out_buffer = maxi(int(opts.get("websocket_buffer_bytes", 1 << 16)), 2 * _proto.MAX_CLIENT_FRAME + 64)


func describe() -> String:
	return _url


# Starts connecting; OK, or an error when the URL is refused at once.
func open(_now) -> Error:
	close()
	queue.clear()
	_messages.clear()
	_closing = false
	_proto.reset()
	var peer := WebSocketPeer.new()
	# A message must fit the inbound buffer whole: the relay's largest frame
	# (a room's full snapshot) with room to spare.
	peer.inbound_buffer_size = _max_message + 1024
	peer.outbound_buffer_size = _out_buffer
	peer.max_queued_packets = 4096
	var err := peer.connect_to_url(_url, _tls)
	if err != OK:
		return err
	ws = peer
	stats["conv"] = 0
	return OK


func is_open() -> bool:
	return ws != null


# The WebSocket is open: the relay accepted it, and what is sent reaches it
# in order unless the connection ends.
func is_established() -> bool:
	return ws != null and ws.get_ready_state() == WebSocketPeer.STATE_OPEN


# Drops the connection without a word (a lost link, a resume).
func close() -> void:
	if ws != null:
		ws.close(-1)  # at once, without the close handshake
	ws = null


func send(frame: PackedByteArray) -> void:
	queue.append(frame.slice(4))


func set_tick_rate(_rate) -> void:
	pass


func receive(_now_us) -> int:
	ws.poll()
	var got := false
	while ws.get_available_packet_count() > 0:
		var body: PackedByteArray = ws.get_packet()
		stats["datagrams_in"] += 1
		stats["bytes_in"] += body.size()
		got = true
		if not ws.was_string_packet():
			_messages.append(_proto.decode_server(body))
		else:
			_messages.append({"ok": false, "fatal": true, "type": 0, "error": "a text WebSocket message (the protocol is binary)"})
	if got:
		return 1
	if ws.get_ready_state() == WebSocketPeer.STATE_CLOSED:
		return -2
	return 0


func next_message():
	if _messages.is_empty():
		return null
	return _messages.pop_front()


# WebSocket has no acknowledgements of its own to hold back.
func can_defer(_now) -> bool:
	return false


# Hands queued messages to the socket while its outbound buffer has room.
func flush(_now, _defer = false) -> bool:
	if ws == null or ws.get_ready_state() != WebSocketPeer.STATE_OPEN:
		return true
	while not queue.is_empty():
		var body: PackedByteArray = queue[0]
		if ws.get_current_outbound_buffered_amount() + body.size() > _out_buffer:
			break  # the browser sends it on; the rest waits for a later poll
		var err: int = ws.send(body, WebSocketPeer.WRITE_MODE_BINARY)
		if err == ERR_OUT_OF_MEMORY:
			break
		if err != OK:
			return false
		queue.pop_front()
		stats["datagrams_out"] += 1
		stats["bytes_out"] += body.size()
	return true


func flush_now(now) -> bool:
	return flush(now)


func dead_reason() -> String:
	if ws == null or ws.get_ready_state() != WebSocketPeer.STATE_CLOSED:
		return ""
	var code: int = ws.get_close_code()
	if code < 0:
		return "the WebSocket to %s could not connect or was cut" % _url
	return "the WebSocket to %s was closed (%d %s)" % [_url, code, ws.get_close_reason()]


# Queued messages, and one for any bytes the browser still holds: WebSocket
# does not say what the relay received, only what left this side.
func unacked() -> int:
	var n := queue.size()
	if ws != null and ws.get_ready_state() == WebSocketPeer.STATE_OPEN and ws.get_current_outbound_buffered_amount() > 0:
		n += 1
	return n


# Messages that never left the queue: they certainly did not arrive, so a
# resume sends them again (as frames, with the length prefix).
func take_unsent() -> Array:
	var frames := []
	for body in queue:
		frames.append(_proto.frame(body))
	queue.clear()
	return frames


# After a bye: sends what is queued, then closes with the handshake (the
# browser sends everything given to it before the close). True once closed.
func linger(now) -> bool:
	if ws == null:
		return true
	ws.poll()
	while ws.get_available_packet_count() > 0:
		ws.get_packet()
	var state: int = ws.get_ready_state()
	if state == WebSocketPeer.STATE_CLOSED:
		return true
	if state == WebSocketPeer.STATE_OPEN and not _closing:
		flush(now)
		if queue.is_empty():
			ws.close(1000, "bye")
			_closing = true
	return false
