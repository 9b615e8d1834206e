# client.gd in a web export to the relay over wss:// (Godot 4 only: a Node
# that runs over frames), with the `url` option, as a game served over
# https connects; godot/enginetest/websocket_e2e_test.go runs the relay with
# a certificate for 127.0.0.1 and a Go client (ana) in the room. Joins by
# code, sends event 900 and a chat line, waits for ana's event 1, says bye.
#
#   args (godot/web's runner): url (wss://...), code, ana, [timeout-ms=20000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
# The runner waits until done is true, then reads h.
var done = false
var c
var phase = 0
var url = ""
var ana = 0
var deadline = 0
var events = []
var disconnects = []
var errors = []


func _ready():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	url = a.get("url", "")
	var code = a.get("code", "")
	ana = int(a.get("ana", "0"))
	deadline = h.now_msec() + int(a.get("timeout-ms", "20000"))
	if not h.check(url.begins_with("wss://") and code != "" and ana > 0, "url (wss://), code and ana are required"):
		finish()
		return
	c = Client.new()
	c.connected.connect(func(_id): c.join_by_code(code))
	c.event_received.connect(func(from, ev, payload, _tick): events.append([from, ev, payload]))
	c.disconnected.connect(func(why, reason): disconnects.append([why, reason]))
	c.error.connect(func(rid, why, message): errors.append([rid, why, message]))
	# host and port are unused with a url.
	h.check(c.connect_to_server("", 0, {"name": "tls", "url": url}) == OK, "connect_to_server")
	h.check(c.transport() == Client.TRANSPORT_WEBSOCKET and c.link_description() == url, "to %s" % c.link_description())


func _process(_delta):
	if done:
		return
	c.poll()
	if phase == 0 and c.is_in_room() and c.players.has(ana):
		c.send_event(Protocol.TARGET_OTHERS, 900, "over wss")
		c.chat("hello over wss")
		phase = 1
	elif phase == 1 and events.size() > 0 and c.unacked_messages() == 0:
		h.check(events == [[ana, 1, "to tls"]], "ana's event: %s" % str(events))
		c.disconnect_from_server()
		phase = 2
	elif phase == 2 and not c.is_socket_open():
		h.check(disconnects.size() == 1 and disconnects[0][0] == Protocol.CODE_CLIENT_CLOSED, "bye: %s" % str(disconnects))
		finish()
	elif disconnects.size() > 0 and phase < 2:
		h.check(false, "disconnected in phase %d: %s" % [phase, str(disconnects)])
		finish()
	elif h.now_msec() > deadline:
		h.check(false, "timed out in phase %d: status %d, players %s, events %s" % [phase, c.status, str(c.players.keys()), str(events)])
		finish()


func finish():
	h.check(errors.size() == 0, "errors: %s" % str(errors))
	h.summary()
	done = true
