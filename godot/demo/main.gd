# tickrelay arena (Godot 4): every running instance is a player. It connects
# to the relay in Project Settings (tickrelay/host, tickrelay/port) and
# shows the lobby (lobby.gd: quick match, the matchmaker's queue, a party,
# lobby chat, announcements). In a room, it plays the arena one of two ways
# (R in the lobby switches):
# - the Relay API (this file): it sends its position and colour as its
#   state every frame and draws the others interpolated 100 ms in the past
#   (tickrelay/tick_interpolation_delay_ms); Space waves (a reliable event);
# - Godot's high-level multiplayer (rpc_arena.gd): MultiplayerSynchronizers
#   carry the positions, Space is an @rpc.
# WASD or arrows move, Enter chats (to the room; in the lobby, to #global),
# Escape leaves the room.
extends Node2D

const Client = preload("res://addons/tickrelay/client.gd")
const Lobby = preload("lobby.gd")
const RpcArena = preload("rpc_arena.gd")

const SPEED := 260.0
const RADIUS := 16.0
const ARENA := Rect2(20, 70, 920, 470)
const EVENT_WAVE := 1
const MAX_CHAT_LINES := 6
const RETRY_S := 3

var my_pos := Vector2.ZERO
var my_color := Color.WHITE
var my_name := ""
var waves := {}  # player id -> time left of its wave ring, s
var chat_lines: Array[String] = []

var status_label: Label
var players_label: Label
var chat_label: Label
var chat_line: LineEdit
var lobby: CanvasLayer
var rpc_arena: Node


func _ready() -> void:
	my_pos = ARENA.get_center() + Vector2(randf_range(-250, 250), randf_range(-150, 150))
	my_color = Color.from_hsv(randf(), 0.65, 0.95)
	my_name = "player%03d" % (randi() % 1000)
	_build_ui()
	lobby = Lobby.new()
	add_child(lobby)
	rpc_arena = RpcArena.new()
	add_child(rpc_arena)
	Relay.room_left.connect(_on_room_left)
	Relay.connected.connect(_on_connected)
	Relay.disconnected.connect(_on_disconnected)
	Relay.reconnecting.connect(_on_reconnecting)
	Relay.reconnected.connect(_on_reconnected)
	Relay.error.connect(_on_error)
	Relay.room_joined.connect(_on_room_joined)
	Relay.player_joined.connect(_on_player_joined)
	Relay.player_left.connect(_on_player_left)
	Relay.master_changed.connect(_on_master_changed)
	Relay.event_received.connect(_on_event_received)
	Relay.chat_received.connect(_on_chat_received)
	_connect()


func _connect() -> void:
	var err: int = Relay.connect_to_server("", 0, {"name": my_name, "props": {"color": my_color}})
	if err != OK:
		status_label.text = "cannot connect: %s" % error_string(err)
	else:
		status_label.text = "connecting to %s ..." % Relay.client.link_description()
	lobby.status = status_label.text


func _process(delta: float) -> void:
	var in_room: bool = Relay.is_in_room()
	lobby.visible = not in_room
	chat_line.visible = in_room
	var dir := Vector2.ZERO
	if in_room and not chat_line.has_focus():
		if Input.is_key_pressed(KEY_A) or Input.is_key_pressed(KEY_LEFT):
			dir.x -= 1
		if Input.is_key_pressed(KEY_D) or Input.is_key_pressed(KEY_RIGHT):
			dir.x += 1
		if Input.is_key_pressed(KEY_W) or Input.is_key_pressed(KEY_UP):
			dir.y -= 1
		if Input.is_key_pressed(KEY_S) or Input.is_key_pressed(KEY_DOWN):
			dir.y += 1
	var lo := ARENA.position + Vector2(RADIUS, RADIUS)
	var hi := ARENA.end - Vector2(RADIUS, RADIUS)
	my_pos = (my_pos + dir.normalized() * SPEED * delta).clamp(lo, hi)
	if rpc_arena.active():
		# The synchronizer sends it.
		var mine: Node2D = rpc_arena.own()
		if mine != null:
			mine.position = my_pos
	elif in_room:
		# Sent once per frame at most; the latest value wins.
		Relay.set_state({"pos": my_pos, "color": my_color})
	for id in waves.keys():
		waves[id] -= delta
		if waves[id] <= 0.0:
			waves.erase(id)
	_update_players_label()
	queue_redraw()


func _unhandled_input(event: InputEvent) -> void:
	var key := event as InputEventKey
	if key == null or not key.pressed or key.echo:
		return
	if not Relay.is_in_room():
		_lobby_key(key.keycode)
		return
	if key.keycode == KEY_SPACE:
		if rpc_arena.active():
			if rpc_arena.own() != null:
				rpc_arena.own().wave.rpc()
		else:
			Relay.send_event(0, EVENT_WAVE, null)  # target 0: everyone, me too
	elif key.keycode == KEY_ESCAPE:
		Relay.leave_room()
	elif key.keycode == KEY_ENTER or key.keycode == KEY_KP_ENTER:
		chat_line.grab_focus()


func _lobby_key(keycode: int) -> void:
	if lobby.typing():
		return
	match keycode:
		KEY_Q:
			lobby.quick_match()
		KEY_M:
			lobby.toggle_queue()
		KEY_P:
			lobby.create_party()
		KEY_J:
			lobby.join_party(lobby.code_field.text)
		KEY_L:
			lobby.leave_party()
		KEY_R:
			lobby.toggle_game_mode()
		KEY_ENTER, KEY_KP_ENTER:
			lobby.chat_field.grab_focus()


# The other players as this page draws them, by relay player id:
# {"pos", "color", "name"}. Relay API: their states interpolated 100 ms in
# the past; @rpc mode: their synchronized nodes.
func others_view() -> Dictionary:
	var out := {}
	if rpc_arena.active():
		var nodes: Dictionary = rpc_arena.others()
		for id in nodes:
			out[id] = {"pos": nodes[id].position, "color": nodes[id].color, "name": nodes[id].player_name}
		return out
	var me: int = Relay.get_player_id()
	var players: Dictionary = Relay.get_players()
	for id in players:
		if id == me:
			continue
		var s = Relay.sample(id)
		if s is Dictionary and s.has("pos"):
			out[id] = {"pos": s["pos"], "color": s.get("color", Color.GRAY), "name": players[id]["name"]}
	return out


func _draw() -> void:
	if not Relay.is_in_room():
		return  # the lobby
	draw_rect(ARENA, Color(0.10, 0.11, 0.14))
	draw_rect(ARENA, Color(0.35, 0.38, 0.45), false, 2.0)
	var font := ThemeDB.fallback_font
	var me: int = Relay.get_player_id()
	var view := others_view()
	for id in view:
		var o: Dictionary = view[id]
		_draw_player(font, o["pos"], o["color"], o["name"], id)
	_draw_player(font, my_pos, my_color, my_name + " (you)", me)


func _draw_player(font: Font, pos: Vector2, color: Color, label: String, id: int) -> void:
	draw_circle(pos, RADIUS, color)
	var wave := _wave_left(id)
	if wave > 0.0:
		draw_arc(pos, RADIUS + 4.0 + (1.0 - wave) * 30.0, 0.0, TAU, 32, color, 2.0)
	draw_string(font, pos + Vector2(-RADIUS * 2.0, -RADIUS - 6.0), label, HORIZONTAL_ALIGNMENT_LEFT, -1, 13)


# The time left of player id's wave ring (an event, or the @rpc mode's call).
func _wave_left(id: int) -> float:
	if rpc_arena.active():
		var n: Node = rpc_arena.own() if id == Relay.get_player_id() else rpc_arena.others().get(id)
		return n.wave_left if n != null else 0.0
	return waves.get(id, 0.0)


func _build_ui() -> void:
	var layer := CanvasLayer.new()
	add_child(layer)
	status_label = Label.new()
	status_label.position = Vector2(20, 10)
	layer.add_child(status_label)
	players_label = Label.new()
	players_label.position = Vector2(20, 36)
	layer.add_child(players_label)
	chat_label = Label.new()
	chat_label.position = Vector2(660, 400)
	chat_label.size = Vector2(280, 130)
	chat_label.vertical_alignment = VERTICAL_ALIGNMENT_BOTTOM
	chat_label.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	layer.add_child(chat_label)
	chat_line = LineEdit.new()
	chat_line.position = Vector2(20, 552)
	chat_line.size = Vector2(920, 32)
	chat_line.placeholder_text = "Enter: chat to the room"
	chat_line.max_length = 200
	chat_line.text_submitted.connect(_on_chat_submitted)
	layer.add_child(chat_line)


func _update_players_label() -> void:
	if not Relay.is_in_room():
		players_label.text = ""
		return
	var names: Array[String] = []
	var players: Dictionary = Relay.get_players()
	for id in players:
		var n: String = players[id]["name"]
		if id == Relay.client.master_id:
			n += " (master)"
		names.append(n)
	players_label.text = "players (%d): %s    rtt %.0f ms" % [players.size(), ", ".join(PackedStringArray(names)), Relay.client.srtt_ms]


func _add_chat(line: String) -> void:
	chat_lines.append(line)
	while chat_lines.size() > MAX_CHAT_LINES:
		chat_lines.pop_front()
	chat_label.text = "\n".join(PackedStringArray(chat_lines))


func _player_name(id: int) -> String:
	var p = Relay.get_players().get(id)
	return p["name"] if p != null else "#%d" % id


func _on_connected(player_id: int) -> void:
	status_label.text = "connected as %s (#%d): in the lobby" % [my_name, player_id]
	lobby.status = "connected as %s (#%d)" % [my_name, player_id]


# The relay went away or could not be reached: try again in a few
# seconds (a bye of this player's own, code 22, is left alone).
func _on_disconnected(code: int, reason: String) -> void:
	rpc_arena.stop()
	status_label.text = "disconnected (%s): %s" % [Relay.client.code_name(code), reason]
	if code != Client.CODE_CLIENT_CLOSED:
		status_label.text += "; connecting again in %d s" % RETRY_S
		get_tree().create_timer(RETRY_S).timeout.connect(_connect)
	lobby.status = status_label.text


# The link died (the network changed): the client resumes by itself and the
# room, its players and this player's id stay as they are.
func _on_reconnecting(_code: int, reason: String) -> void:
	status_label.text = "connection lost (%s), reconnecting ..." % reason


func _on_reconnected() -> void:
	status_label.text = "back in room %d, code %s" % [Relay.client.room_id, Relay.get_room_code()]


func _on_error(request_id: int, code: int, message: String) -> void:
	_add_chat("[error %s] %s" % [Relay.client.code_name(code), message])


func _on_room_joined(room_id: int, code: String) -> void:
	status_label.text = "room %d, code %s: share the code, or start another instance (Esc: back to the lobby)" % [room_id, code]
	if lobby.game_mode == "rpc":
		rpc_arena.start(my_pos, my_color, my_name)


func _on_room_left(_code: int) -> void:
	rpc_arena.stop()
	status_label.text = "in the lobby"


func _on_player_joined(id: int, player_name: String, _props: Dictionary) -> void:
	if id != Relay.get_player_id():
		_add_chat("* %s joined" % player_name)


func _on_player_left(id: int) -> void:
	_add_chat("* #%d left" % id)


func _on_master_changed(id: int) -> void:
	_add_chat("* %s is the master" % _player_name(id))


func _on_event_received(from: int, code: int, _payload, _tick: int) -> void:
	if code == EVENT_WAVE:
		waves[from] = 1.0


func _on_chat_received(from: int, to: int, text: String, _time_ms: int) -> void:
	var prefix := "" if to == 0 else "(to %s) " % _player_name(to)
	_add_chat("%s%s: %s" % [prefix, _player_name(from), text])


func _on_chat_submitted(text: String) -> void:
	if text.strip_edges() != "" and Relay.is_in_room():
		Relay.chat(text.strip_edges())
	chat_line.clear()
	chat_line.release_focus()
