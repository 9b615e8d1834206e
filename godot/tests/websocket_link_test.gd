# websocket_link.gd without a network (Godot 4 only, like the link): a
# stand-in WebSocketPeer whose outbound buffer fills as the browser's does.
# Framing (a message body per WebSocket message, no length prefix), the
# queue in front of a full buffer (in order, nothing dropped), reading
# binary and refusing text messages, the link's end, what a resume sends
# again, the bye, and how client.gd picks the transport and the URL.
#
#   run by godot/enginetest (web_test.go) in the Godot 4.6 web engine
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Resume = preload("res://addons/tickrelay/resume.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")
const WebSocketLink = preload("res://addons/tickrelay/websocket_link.gd")

var h
var mp


# A WebSocketPeer as the link uses it, with a buffer that only drain()
# empties (the browser sending bytes on).
class FakePeer:
	var state = WebSocketPeer.STATE_OPEN
	var limit = 1 << 16  # ERR_OUT_OF_MEMORY past this, as WebSocketPeer
	var buffered = 0
	var sent = []  # bodies, in order
	var inbox = []  # [bytes, is_text]
	var last_text = false
	var close_code = -1
	var close_reason = ""
	var closes = []  # the codes close() was called with

	func poll():
		pass

	func get_ready_state():
		return state

	func get_current_outbound_buffered_amount():
		return buffered

	func send(body, _mode):
		if buffered + body.size() > limit:
			return ERR_OUT_OF_MEMORY
		buffered += body.size()
		sent.append(body)
		return OK

	func drain(n):
		buffered = maxi(0, buffered - n)

	func get_available_packet_count():
		return inbox.size()

	func get_packet():
		var p = inbox.pop_front()
		last_text = p[1]
		return p[0]

	func was_string_packet():
		return last_text

	func close(code = 1000, reason = ""):
		closes.append(code)
		close_code = code
		close_reason = reason
		state = WebSocketPeer.STATE_CLOSED if code < 0 else WebSocketPeer.STATE_CLOSING

	func get_close_code():
		return close_code

	func get_close_reason():
		return close_reason


func _init():
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	test_framing()
	test_queue()
	test_receive()
	test_resume_sends_unsent()
	test_resume_attempt_kept_while_open()
	test_linger()
	test_transport_choice()
	h.finish(self)


func new_link(opts = {}):
	var p = Protocol.new()
	var link = WebSocketLink.new(p, "ws://127.0.0.1:1/", opts)
	link.stats = {"datagrams_in": 0, "datagrams_out": 0, "bytes_in": 0, "bytes_out": 0, "conv": 0}
	link.ws = FakePeer.new()
	return link


func decode(body):
	var r = mp.decode(body)
	return r.value if r.ok else "undecodable"


# A message body per WebSocket message: the frame without its length.
func test_framing():
	var link = new_link()
	var p = Protocol.new()
	var frame = p.encode_chat(0, "hi")
	link.send(frame)
	h.check(link.queue.size() == 1 and link.queue[0].size() == frame.size() - 4, "queued without the 4-byte length")
	h.check(link.flush(0), "flush")
	var peer = link.ws
	h.check(peer.sent.size() == 1 and decode(peer.sent[0]) == [22, 0, "hi"], "sent the body: %s" % str(peer.sent))
	h.check(link.queue.size() == 0 and link.stats["datagrams_out"] == 1 and link.stats["bytes_out"] == frame.size() - 4, "counted: %s" % str(link.stats))
	h.check(link.unacked() == 1, "bytes still in the browser's buffer count as one unacked message: %d" % link.unacked())
	peer.drain(1 << 20)
	h.check(link.unacked() == 0, "nothing left: %d" % link.unacked())
	# Before the socket is open, everything waits.
	link = new_link()
	link.ws.state = WebSocketPeer.STATE_CONNECTING
	link.send(p.encode_ping(5))
	h.check(link.flush(0) and link.ws.sent.size() == 0 and link.queue.size() == 1, "nothing sent while connecting")
	link.ws.state = WebSocketPeer.STATE_OPEN
	h.check(link.flush(0) and link.ws.sent.size() == 1 and decode(link.ws.sent[0]) == [23, 5], "sent once open")


# Past the outbound buffer, messages wait in order; none is dropped.
func test_queue():
	var link = new_link()
	var peer = link.ws
	var p = Protocol.new()
	var payload = "x".repeat(900)
	for i in range(200):
		link.send(p.encode_event(Protocol.TARGET_ALL, i, payload, null))
	link.flush(0)
	var first = peer.sent.size()
	h.check(first > 0 and first < 200, "the buffer took some: %d" % first)
	h.check(peer.buffered <= link._out_buffer, "within the buffer: %d" % peer.buffered)
	h.check(link.queue.size() == 200 - first and link.unacked() == 200 - first + 1, "the rest waits: %d queued" % link.queue.size())
	# The browser sends a little at a time; each flush tops the buffer up.
	var rounds = 0
	while link.queue.size() > 0 and rounds < 1000:
		peer.drain(3000)
		link.flush(0)
		rounds += 1
	h.check(peer.sent.size() == 200, "all sent: %d in %d rounds" % [peer.sent.size(), rounds])
	var in_order = true
	for i in range(peer.sent.size()):
		var m = decode(peer.sent[i])
		if typeof(m) != TYPE_ARRAY or m[2] != i or m[3] != payload:
			in_order = false
	h.check(in_order, "in order, whole")
	# A peer that refuses before the link's own estimate (ERR_OUT_OF_MEMORY)
	# keeps the message queued, not lost.
	link = new_link()
	link.ws.limit = 100
	link.send(p.encode_chat(0, "y".repeat(150)))
	h.check(link.flush(0) and link.queue.size() == 1 and link.ws.sent.size() == 0, "refused by the peer: kept")
	link.ws.limit = 1 << 16
	h.check(link.flush(0) and link.queue.size() == 0 and link.ws.sent.size() == 1, "sent when it fits")


func test_receive():
	var link = new_link()
	var peer = link.ws
	var welcome = mp.encode([2, 1, 7, "tok", 30, 1700000000000, 100, false, 0])
	peer.inbox.append([welcome, false])
	var pong = mp.encode([34, 5, 1700000000001, 101, 250])
	peer.inbox.append([pong, false])
	h.check(link.receive(0) == 1, "something arrived")
	var m = link.next_message()
	h.check(m != null and m.ok and m.type == Protocol.MSG_WELCOME and m.player_id == 7, "welcome: %s" % str(m))
	m = link.next_message()
	h.check(m != null and m.ok and m.type == Protocol.MSG_PONG and m.hold_us == 250, "pong: %s" % str(m))
	h.check(link.next_message() == null and link.receive(0) == 0, "then nothing")
	h.check(link.stats["datagrams_in"] == 2 and link.stats["bytes_in"] == welcome.size() + pong.size(), "counted: %s" % str(link.stats))
	# A text message is not the protocol.
	peer.inbox.append([mp.encode([5, 1]), true])
	link.receive(0)
	m = link.next_message()
	h.check(m != null and not m.ok and m.error.find("text") >= 0, "text refused: %s" % str(m))
	# An empty or malformed body is a protocol error too.
	peer.inbox.append([PackedByteArray(), false])
	link.receive(0)
	m = link.next_message()
	h.check(m != null and not m.ok, "empty body refused: %s" % str(m))
	# The relay closes: -2 once nothing is left to read.
	peer.inbox.append([mp.encode([4, 11, "the server is shutting down"]), false])
	peer.state = WebSocketPeer.STATE_CLOSED
	peer.close_code = 1000
	peer.close_reason = "server_closing"
	h.check(link.receive(0) == 1, "the close message is read first")
	m = link.next_message()
	h.check(m != null and m.type == Protocol.MSG_CLOSE and m.code == 11, "close: %s" % str(m))
	h.check(link.receive(0) == -2, "then the link is over")
	h.check(link.dead_reason().find("closed (1000 server_closing)") >= 0, "why: %s" % link.dead_reason())
	peer.close_code = -1
	h.check(link.dead_reason().find("could not connect or was cut") >= 0, "why, without a close: %s" % link.dead_reason())


# When the link is lost, messages that never left the queue go again after
# the resuming hello; those the browser had are counted as unacked.
func test_resume_sends_unsent():
	var c = Client.new()
	c._opts = Client.DEFAULT_OPTIONS.duplicate()
	c._opts["resume_timeout_ms"] = 60000
	var link = WebSocketLink.new(c._proto, "ws://127.0.0.1:1/", c._opts)
	link.stats = c.stats
	var peer = FakePeer.new()
	peer.limit = 40000
	link.ws = peer
	c._link = link
	c.status = Client.STATUS_CONNECTING
	c._handle(c._proto.decode_server(mp.encode([2, 1, 2, "tok1", 30, 1700000000000, 100])), 1000000)
	h.check(c.is_connected_to_server(), "welcomed")
	var payload = "z".repeat(900)
	for i in range(60):
		c.send_event(Protocol.TARGET_ALL, i, payload)
	link.flush(0)
	var sent = peer.sent.size()
	h.check(sent > 0 and sent < 60, "some sent, some queued: %d" % sent)
	Resume.link_lost(c, "test", c.now_ms())
	h.check(c.is_reconnecting() and c._link == null, "reconnecting; no link to 127.0.0.1:1 (no url: KCP target unset)")
	h.check(c._resume_queue.size() == 60 - sent, "the unsent go again: %d" % c._resume_queue.size())
	h.check(c.stats["unacked_at_loss"] == 1, "the browser's bytes: one unacked at loss: %d" % c.stats["unacked_at_loss"])
	var first = mp.decode_slice(c._resume_queue[0], 4, c._resume_queue[0].size(), true)
	h.check(first.ok and first.value[0] == Protocol.MSG_EVENT and first.value[2] == sent, "first again: event %s" % str(first.value[2] if first.ok else first))
	h.check(peer.closes == [-1], "the lost link is dropped at once: %s" % str(peer.closes))


# A resume attempt on an open WebSocket is not dropped for a new one at the
# attempts' interval: its hello may have reached the relay, which then spent
# the resume token on it. It gives way after link_timeout_ms of silence; an
# attempt still connecting gives way at the interval.
func test_resume_attempt_kept_while_open():
	var c = Client.new()
	c._opts = Client.DEFAULT_OPTIONS.duplicate()
	c._opts["resume_timeout_ms"] = 60000
	c._opts["link_timeout_ms"] = 5000
	var now = c.now_ms()
	var attempt = func(state, silent_ms):
		var link = WebSocketLink.new(c._proto, "ws://127.0.0.1:1/", c._opts)
		link.stats = c.stats
		var peer = FakePeer.new()
		peer.state = state
		link.ws = peer
		c._link = link
		c.status = Client.STATUS_RECONNECTING
		c.resume_token = "tok"
		c._resume_deadline = now + 60000
		c._resume_attempt = 1
		c._next_attempt_ms = now - 1  # the next attempt is due
		c._last_recv_ms = now - silent_ms
		Resume.poll(c, now)
		return [c._resume_attempt, c._link == link, peer.closes]
	var got = attempt.call(WebSocketPeer.STATE_OPEN, 4000)
	h.check(got == [1, true, []], "an open attempt stays: attempt %d, same link %s, closes %s" % got)
	h.check(Resume.attempt_pending(c, now), "pending")
	# No url: the next attempt's link (KCP, no target) cannot open; what
	# matters is that one was started and the old link dropped.
	got = attempt.call(WebSocketPeer.STATE_OPEN, 5000)
	h.check(got == [2, false, [-1]], "silent for link_timeout_ms: a new attempt: %s" % str(got))
	got = attempt.call(WebSocketPeer.STATE_CONNECTING, 0)
	h.check(got == [2, false, [-1]], "still connecting at the interval: a new attempt: %s" % str(got))
	got = attempt.call(WebSocketPeer.STATE_CLOSED, 0)
	h.check(got == [2, false, [-1]], "closed: a new attempt: %s" % str(got))


# After a bye: the queue goes out, then the close handshake; done once closed.
func test_linger():
	var link = new_link()
	var peer = link.ws
	var p = Protocol.new()
	peer.limit = 1
	link.send(p.encode_bye())
	h.check(not link.linger(0) and peer.closes.size() == 0, "the bye waits for room: not closed yet")
	peer.limit = 1 << 16
	h.check(not link.linger(0) and peer.sent.size() == 1 and decode(peer.sent[0]) == [24], "bye sent")
	h.check(peer.closes == [1000], "then closed with the handshake: %s" % str(peer.closes))
	peer.state = WebSocketPeer.STATE_CLOSED
	h.check(link.linger(0), "over once closed")


# How connect_to_server() picks the transport and the URL (no connection is
# made: only the choice is checked).
func test_transport_choice():
	var c = Client.new()
	var cases = [
		[{}, "127.0.0.1", 7777, OK, "ws://127.0.0.1:7777/" if OS.has_feature("web") else ""],
		[{"transport": "websocket"}, "127.0.0.1", 7777, OK, "ws://127.0.0.1:7777/"],
		[{"transport": "websocket"}, "::1", 7000, OK, "ws://[::1]:7000/"],
		[{"transport": "websocket"}, "relay.example.com", 443, OK, "ws://relay.example.com:443/"],
		[{"url": "wss://relay.example.com/play"}, "", 0, OK, "wss://relay.example.com/play"],
		[{"url": "wss://relay.example.com/play", "transport": "kcp"}, "", 0, OK, "wss://relay.example.com/play"],
		[{"url": "http://relay.example.com/"}, "", 0, ERR_INVALID_PARAMETER, ""],
		[{"transport": "websocket"}, "127.0.0.1", 0, ERR_INVALID_PARAMETER, ""],
		[{"transport": "carrier-pigeon"}, "127.0.0.1", 7777, ERR_INVALID_PARAMETER, ""],
		[{"transport": "kcp"}, "127.0.0.1", 7777, OK, ""],
	]
	for k in cases:
		c._opts = Client.DEFAULT_OPTIONS.duplicate()
		for o in k[0]:
			c._opts[o] = k[0][o]
		var err = c._choose_target(k[1], k[2])
		h.check(err == k[3] and c._url == k[4], "%s %s:%d: got %s %s, want %s %s" % [str(k[0]), k[1], k[2], error_string(err), c._url, error_string(k[3]), k[4]])
	h.check(c.connect_to_server("127.0.0.1", 7777, {"url": "ftp://x/"}) == ERR_INVALID_PARAMETER, "a bad URL is refused before connecting")
	h.check(c.connect_to_server("127.0.0.1", 7777, {"transport": "nope"}) == ERR_INVALID_PARAMETER, "an unknown transport is refused")
	if OS.has_feature("web"):
		# No UDP in a browser: KCP cannot open its socket.
		h.check(c.connect_to_server("127.0.0.1", 7777, {"transport": "kcp"}) == ERR_CANT_CREATE, "KCP in a web export")
		c._opts = Client.DEFAULT_OPTIONS.duplicate()
		h.check(c.transport() == Client.TRANSPORT_WEBSOCKET, "auto is WebSocket on the web")
	h.check(c.status == Client.STATUS_DISCONNECTED and not c.is_socket_open(), "nothing opened")
