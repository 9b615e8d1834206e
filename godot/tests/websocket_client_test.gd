# client.gd over a real WebSocket (Godot 4 only: a Node that runs over
# frames, since a browser's WebSocket moves only between them), against a
# stand-in relay in the Go test (godot/enginetest/websocket_test.go) that
# speaks the protocol's WebSocket framing. The phases:
#   1. connect to ws://127.0.0.1:PORT/ (the transport a web export picks),
#      welcome; a burst of `burst` events of 900 bytes, past the socket's
#      outbound buffer, so that they queue, then chat "burst done"
#   2. the stand-in answers, once it has every event in order, with event 1
#      in a frame of tick 50, then cuts the connection without a word:
#      reconnecting; chat "while away" is queued
#   3. the new connection's hello carries the resume token and tick 50; the
#      stand-in welcomes it as resumed and sends event 2: reconnected; then
#      chat "now text"
#   4. the stand-in answers with a text message: disconnected(-3)
#   5. connect again: the stand-in sends close(11) and closes:
#      disconnected(11)
#
#   run by godot/enginetest in the Godot 4.6 web engine, args: --port=N
#   [--burst=300] [--timeout-ms=30000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
# The runner waits until done is true, then reads h.
var done = false
var c
var phase = 0
var port = 0
var burst = 300
var deadline = 0
var lifecycle = []  # connected / reconnecting / reconnected / disconnected, in order
var events = []  # [from, code, tick]
var disconnects = []
var errors = []
var max_queued = 0  # the most messages seen waiting in the link's queue after a poll


func _ready():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	port = int(a.get("port", "0"))
	burst = int(a.get("burst", "300"))
	deadline = h.now_msec() + int(a.get("timeout-ms", "30000"))
	if not h.check(port > 0, "--port is required"):
		done = true
		return
	c = Client.new()
	c.connected.connect(func(id): lifecycle.append("connected %d" % id))
	c.reconnecting.connect(_on_reconnecting)
	c.reconnected.connect(func(): lifecycle.append("reconnected"))
	c.disconnected.connect(_on_disconnected)
	c.event_received.connect(func(from, code, _payload, tick): events.append([from, code, tick]))
	c.error.connect(func(rid, code, message): errors.append([rid, code, message]))
	h.check(c.connect_to_server("127.0.0.1", port, {"name": "web"}) == OK, "connect")
	h.check(c.link_description() == "ws://127.0.0.1:%d/" % port, "over WebSocket: %s" % c.link_description())
	phase = 1


func _on_reconnecting(code, reason):
	lifecycle.append("reconnecting %d" % code)
	h.check(c.chat("while away"), "chat while reconnecting is queued")


func _on_disconnected(code, reason):
	lifecycle.append("disconnected %d" % code)
	disconnects.append([code, reason])


func has_event(code):
	for e in events:
		if e[1] == code:
			return true
	return false


func _process(_delta):
	if done:
		return
	c.poll()
	if phase == 2 and c._link != null:
		max_queued = maxi(max_queued, c._link.queue.size())
	if phase == 1 and c.is_connected_to_server():
		var payload = "x".repeat(900)
		for i in range(burst):
			c.send_event(Protocol.TARGET_ALL, 100 + i, "%04d%s" % [i, payload])
		c.chat("burst done")
		h.check(c.unacked_messages() > 100, "the burst waits on this side: %d" % c.unacked_messages())
		phase = 2
	elif phase == 2 and has_event(1) and lifecycle.has("reconnecting -2"):
		phase = 3
	elif phase == 3 and lifecycle.has("reconnected") and has_event(2):
		h.check(c.player_id == 7 and c.is_connected_to_server(), "the same player after the resume: %d" % c.player_id)
		h.check(c.stats["resumes"] == 1, "one resume: %s" % str(c.stats))
		c.chat("now text")
		phase = 4
	elif phase == 4 and disconnects.size() == 1:
		h.check(disconnects[0][0] == Client.DISCONNECT_PROTOCOL and disconnects[0][1].find("text") >= 0,
			"a text message is a protocol error: %s" % str(disconnects[0]))
		h.check(not c.is_socket_open(), "closed")
		h.check(c.connect_to_server("127.0.0.1", port, {"name": "web"}) == OK, "connect again")
		phase = 5
	elif phase == 5 and disconnects.size() == 2:
		h.check(disconnects[1][0] == Protocol.CODE_SERVER_CLOSING, "the relay's close: %s" % str(disconnects[1]))
		finish()
	if not done and h.now_msec() > deadline:
		h.check(false, "timed out in phase %d: lifecycle %s, events %s, disconnects %s" % [phase, str(lifecycle), str(events), str(disconnects)])
		finish()


func finish():
	h.check(lifecycle == ["connected 7", "reconnecting -2", "reconnected", "disconnected -3", "connected 8", "disconnected 11"],
		"lifecycle: %s" % str(lifecycle))
	h.check(events.size() == 2 and events[0] == [7, 1, 50] and events[1] == [7, 2, 61], "events: %s" % str(events))
	h.check(errors.size() == 0, "errors: %s" % str(errors))
	h.check(max_queued > 0, "the burst waited in the queue for the browser's buffer")
	print("websocket client: up to %d of %d messages queued at once; stats of the last connection %s" % [max_queued, burst + 1, str(c.stats)])
	h.summary()
	done = true
