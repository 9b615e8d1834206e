# Following a redirect over WebSocket (Godot 4.6 web engine): the client
# connects to node A (a stand-in in godot/enginetest/redirect_test.go), asks
# to join a room by code, and A answers with a redirect to node B (the real
# relay, not in a cluster). The client must say bye to A, connect to B's
# WebSocket URL with a fresh hello, and send join_seat under the request's
# id; B, outside a cluster, refuses the seat (forbidden), and that error
# must come back with the join's request id, on B, with B's player id (and
# redirected with it), and without a second connected or any disconnected.
#
#   args: url (node A), b (node B's ws:// URL), [timeout-ms=20000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")

var h
var done := false
var c
var rid := 0
var connects := []
var redirects := []
var errors := []
var disconnects := []
var deadline := 0


func _ready() -> void:
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	deadline = Time.get_ticks_msec() + int(a.get("timeout-ms", "20000"))
	c = Client.new()
	c.connected.connect(func(id): connects.append(id))
	c.redirected.connect(func(id): redirects.append(id))
	c.error.connect(func(r, code, msg): errors.append([r, code, msg]))
	c.disconnected.connect(func(code, why): disconnects.append([code, why]))
	h.check(c.connect_to_server("", 0, {"name": "web", "url": a.get("url", "")}) == OK, "connect to node A")


func _process(_delta: float) -> void:
	if done:
		return
	c.poll()
	if Time.get_ticks_msec() > deadline:
		h.check(false, "timed out: connects %s errors %s disconnects %s link %s" % [str(connects), str(errors), str(disconnects), c.link_description()])
		done = true
		return
	if rid == 0 and c.is_connected_to_server():
		h.check(c.player_id == 7, "node A's player id 7: %d" % c.player_id)
		rid = c.join_by_code("ABCDEF")
		return
	if errors.is_empty():
		return
	var b: String = h.args().get("b", "")
	h.check(errors.size() == 1 and errors[0][0] == rid and errors[0][1] == 24, "node B's refusal answers the join (rid %d): %s" % [rid, str(errors)])
	h.check(c.link_description() == b, "on node B: %s, want %s" % [c.link_description(), b])
	h.check(c.player_id != 7 and c.player_id > 0 and c.is_connected_to_server(), "B's player: id %d, status %d" % [c.player_id, c.status])
	h.check(connects == [7] and disconnects.is_empty(), "one connected, no disconnected: %s %s" % [str(connects), str(disconnects)])
	h.check(redirects == [c.player_id], "redirected with B's player id: %s" % str(redirects))
	print("redirect: followed to %s as player %d" % [c.link_description(), c.player_id])
	c.disconnect_from_server()
	done = true
