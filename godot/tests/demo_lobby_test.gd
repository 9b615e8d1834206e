# The demo's lobby, headless, in the Godot 4.6 web engine: demo/main.gd
# with the Relay autoload, against the real relay, with a Go client (bo)
# that godot/enginetest/demo_lobby_test.go drives. Godot 4 only. Checks what
# the lobby screen shows (its labels) at each step:
#   1. connected, the lobby of #global with the line ana said before
#   2. P (create_party): the party line shows its code; this script prints
#      "demo-lobby: party CODE" and bo joins it: the line shows both
#   3. a line said in the lobby's chat field reaches #global (bo checks it)
#   4. M (toggle_queue): the party (its leader queues) is matched into an
#      arena room; the lobby hides and the arena lists both players
#   5. Escape (leave_room): back in the lobby
#
#   args: [timeout-ms=30000]
extends Node

var h
var done := false
var demo
var step := 0
var deadline := 0


func _ready() -> void:
	h = preload("res://tests/harness.gd").new()
	deadline = Time.get_ticks_msec() + int(h.args().get("timeout-ms", "30000"))
	demo = load("res://demo/main.gd").new()
	add_child(demo)
	step = 1


func _exit_tree() -> void:
	Relay.disconnect_from_server()


func shows(label: Label, text: String) -> bool:
	return label.visible and label.text.find(text) >= 0


func _process(_delta: float) -> void:
	if done:
		return
	if Time.get_ticks_msec() > deadline:
		h.check(false, "timed out at step %d: lobby status %q, party %q, chat %s" % [step, demo.lobby.status, demo.lobby.party_text(), str(demo.lobby.chat_lines)])
		done = true
		return
	var lobby = demo.lobby
	lobby.refresh()  # the labels as this frame shows them
	if step == 1:
		if lobby.chat_lines.has("ana: hello lobby") and Relay.is_connected_to_server():
			h.check(lobby.visible and shows(lobby._chat, "ana: hello lobby"), "the lobby shows #global")
			h.check(shows(lobby._party, "party: none"), "no party yet: %s" % lobby._party.text)
			demo._lobby_key(KEY_P)
			step = 2
	elif step == 2:
		var p: Dictionary = Relay.get_party()
		if p.get("party_id", 0) != 0 and lobby._party.text.find(p["code"]) >= 0:
			print("demo-lobby: party %s" % p["code"])
			step = 3
	elif step == 3:
		if Relay.get_party()["members"].size() == 2 and lobby._party.text.find("bo") >= 0:
			h.check(shows(lobby._party, "(leader)"), "the party line: %s" % lobby._party.text)
			lobby.chat_field.text = "lobby line from the demo"
			lobby.chat_field.text_submitted.emit(lobby.chat_field.text)
			demo._lobby_key(KEY_M)
			step = 4
	elif step == 4:
		if Relay.is_in_room() and Relay.get_players().size() == 2 and not lobby.visible:
			h.check(demo.players_label.text.find("bo") >= 0, "the arena lists bo: %s" % demo.players_label.text)
			h.check(Relay.client.room_mode == "arena", "an arena room: %s" % Relay.client.room_mode)
			demo._unhandled_input(escape())
			step = 5
	elif step == 5:
		if not Relay.is_in_room() and lobby.visible:
			h.check(shows(lobby._chat, "lobby line from the demo"), "the lobby line came back from #global: %s" % str(lobby.chat_lines))
			done = true


func escape() -> InputEventKey:
	var e := InputEventKey.new()
	e.keycode = KEY_ESCAPE
	e.pressed = true
	return e
