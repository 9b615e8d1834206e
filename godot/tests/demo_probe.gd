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
# the demo draws it (its others_view(): with the Relay API the state
# interpolated in the past, in the @rpc mode the synchronized node).
# Colours are 0-255. In the lobby it prints what the lobby screen shows:
#
#   lobby: {"me": ID, "status": "...", "announcement": "...", "party": "...",
#           "chat": ["name: line", ...], "queued": bool, "mode": "relay"|"rpc"}
#
# Nothing is printed while nothing changed.
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
	if relay == null or demo == null:
		return
	var line = ""
	if not relay.is_in_room():
		line = "lobby: " + JSON.stringify(_lobby(relay, demo.get("lobby")))
	else:
		var others = {}
		var view = demo.others_view()
		for id in view:
			others[str(id)] = {"pos": _vec(view[id]["pos"]), "color": _color(view[id]["color"])}
		line = "demo: " + JSON.stringify({
			"me": relay.get_player_id(),
			"room": relay.get_room_code(),
			"pos": _vec(demo.get("my_pos")),
			"color": _color(demo.get("my_color")),
			"others": others,
			"mode": demo.get("lobby").game_mode,
			"fps": Engine.get_frames_per_second(),
			"rtt_ms": roundi(relay.client.srtt_ms),
		})
	if line != _last:
		_last = line
		print(line)


# What the lobby screen shows: its labels' text.
func _lobby(relay, lobby):
	if lobby == null:
		return {}
	return {
		"me": relay.get_player_id(),
		"status": lobby.status,
		"announcement": lobby.announcement,
		"party": lobby.party_text(),
		"chat": lobby.chat_lines,
		"queued": relay.client.meeting.queued,
		"mode": lobby.game_mode,
	}


func _vec(v):
	return [snappedf(v.x, 0.1), snappedf(v.y, 0.1)]


func _color(c):
	return [c.r8, c.g8, c.b8]
