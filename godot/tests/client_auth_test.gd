# client.gd against a relay that requires auth tokens: with --token the
# welcome comes (and the token's name wins over the one in hello); without
# one the server closes with unauthorized (23) before any welcome, which the
# client reports as disconnected(23, reason) without a connected signal.
#
#   godot3-server --no-window --path PROJECT -s res://tests/client_auth_test.gd -- \
#       --host=127.0.0.1 --port=N --token=JWT --token-name=NAME
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")

var h
var log_ = []


func _init():
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	var host = a.get("host", "127.0.0.1")
	var port = int(a.get("port", "0"))
	var token = a.get("token", "")
	h.check(port > 0 and token != "", "--port and --token are required")

	var c = Client.new()
	h.connect_signal(c, "connected", self, "_on_connected")
	h.connect_signal(c, "disconnected", self, "_on_disconnected")
	h.connect_signal(c, "room_joined", self, "_on_room_joined")
	h.connect_signal(c, "player_joined", self, "_on_player_joined")
	# With the token: welcome, then a room; the token's name is used.
	h.check(c.connect_to_server(host, port, {"name": "ignored", "auth_token": token}) == OK, "connect with a token")
	run(c, 10000, "connected")
	c.create_room({"mode": "auth", "public": false})
	run(c, 10000, "player_joined")
	h.check(log_.size() >= 3 and log_[0][0] == "connected", "connected with a token: %s" % str(log_))
	var me = c.players.get(c.player_id)
	h.check(me != null and me.name == a.get("token-name", ""), "the token's name: %s" % str(me))
	c.disconnect_from_server()
	run(c, 2000, "")

	# Without: unauthorized before any welcome.
	log_ = []
	var d = Client.new()
	h.connect_signal(d, "connected", self, "_on_connected")
	h.connect_signal(d, "disconnected", self, "_on_disconnected")
	h.check(d.connect_to_server(host, port, {"name": "nobody"}) == OK, "connect without a token")
	run(d, 10000, "disconnected")
	h.check(log_.size() == 1 and log_[0][0] == "disconnected" and log_[0][1] == Protocol.CODE_UNAUTHORIZED,
		"disconnected(unauthorized) without connected: %s" % str(log_))
	h.check(not d.is_socket_open() and d.status == Client.STATUS_DISCONNECTED, "closed")
	h.finish(self)


# Polls c until a signal named `until` was logged (or, with "", the socket is
# closed), or timeout_ms passes.
func run(c, timeout_ms, until):
	var deadline = h.now_msec() + timeout_ms
	while h.now_msec() < deadline:
		c.poll()
		if until == "" and not c.is_socket_open():
			return
		for e in log_:
			if e[0] == until:
				return
		OS.delay_msec(2)
	h.check(false, "timed out waiting for %s: %s" % [until, str(log_)])


func _on_connected(id):
	log_.append(["connected", id])


func _on_disconnected(code, reason):
	log_.append(["disconnected", code, reason])


func _on_room_joined(room_id, code):
	log_.append(["room_joined", room_id, code])


func _on_player_joined(id, pname, props):
	log_.append(["player_joined", id, pname])
