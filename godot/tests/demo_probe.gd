# What the demo shows, on the console (Godot 4 only): an autoload that
# godot/enginetest/demo_test.go adds to the demo's web export, which is
# otherwise packed as it is. Every 100 ms while the demo is in a room it
# prints one line
#
#   demo: {"me": ID, "room": "CODE", "pos": [x, y], "color": [r, g, b],
#          "others": {"ID": {"pos": [x, y], "color": [r, g, b]}, ...},
#          "fps": N, "rtt_ms": N}
#
# with this player's position (the demo's my_pos) and each other player as
# the demo draws it: Relay.sample(id), the state interpolated in the past.
# Colours are 0-255. Nothing is printed while nothing changed.
extends Node

const PERIOD_MS = 100

var _next_ms = 0
var _last = ""


func _process(_delta):
	var now = Time.get_ticks_msec()
	if now < _next_ms:
		return
	_next_ms = now + PERIOD_MS
	var relay = get_node_or_null("/root/Relay")
	var demo = get_tree().current_scene
	if relay == null or demo == null or not relay.is_in_room():
		return
	var others = {}
	var players = relay.get_players()
	var me = relay.get_player_id()
	for id in players:
		if id == me:
			continue
		var s = relay.sample(id)
		if s is Dictionary and s.has("pos"):
			others[str(id)] = {"pos": _vec(s["pos"]), "color": _color(s.get("color", Color.GRAY))}
	var line = JSON.stringify({
		"me": me,
		"room": relay.get_room_code(),
		"pos": _vec(demo.get("my_pos")),
		"color": _color(demo.get("my_color")),
		"others": others,
		"fps": Engine.get_frames_per_second(),
		"rtt_ms": roundi(relay.client.srtt_ms),
	})
	if line != _last:
		_last = line
		print("demo: " + line)


func _vec(v):
	return [snappedf(v.x, 0.1), snappedf(v.y, 0.1)]


func _color(c):
	return [c.r8, c.g8, c.b8]
