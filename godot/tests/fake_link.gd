# A link for client.gd's unit tests (meeting_unit_test.gd,
# multiplayer_peer_unit_test.gd): it records the frames the client sends
# (sent) and whether it was closed, and sends nothing anywhere. In the
# GDScript subset that both Godot 3.2+ and Godot 4.x accept.

var sent = []
var closed = false
var stats = {}


func send(frame):
	sent.append(frame)


func flush_now(_now):
	return true


func flush(_now, _defer = false):
	return true


func close():
	closed = true


func is_open():
	return not closed


func set_tick_rate(_rate):
	pass


func describe():
	return "fake"
