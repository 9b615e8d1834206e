# The demo's lobby screen, shown while the player is in no room: quick
# match or the matchmaker's queue for a mode, a party (create one and share
# its code, or join a friend's), the lobby chat of the "global" channel, and
# the relay operator's announcements. Keys (while the chat line is not
# focused): Q quick match, M queue for the mode in the field (again: leave
# the queue), P create a party, J join the party whose code is in the field,
# L leave the party, R switch how the arena is played (the Relay API, or
# Godot's @rpc and MultiplayerSynchronizer), Enter chat.
extends CanvasLayer

const MAX_LINES := 8

var status := "connecting ..."
var announcement := ""
var chat_lines: Array[String] = []
var game_mode := "relay"  # "relay" or "rpc": see main.gd and rpc_arena.gd

var _title: Label
var _status: Label
var _party: Label
var _announce: Label
var _chat: Label
var _help: Label
var mode_field: LineEdit
var code_field: LineEdit
var chat_field: LineEdit


func _ready() -> void:
	_build()
	Relay.connected.connect(func(_id): Relay.join_channel("global"))
	Relay.reconnected.connect(func(): refresh())
	Relay.announcement.connect(_on_announcement)
	Relay.party_changed.connect(func(_p): refresh())
	Relay.channel_joined.connect(_on_channel_joined)
	Relay.channel_message.connect(_on_channel_message)
	Relay.match_found.connect(func(m): status = "match found: room %d, region %s, after %.1f s" % [m.room_id, m.region, m.waited_ms / 1000.0])
	Relay.match_ended.connect(func(outcome): status = "no match (%s)" % ("timed out" if outcome == 1 else "cancelled"))
	Relay.request_ok.connect(func(_rid): refresh())
	refresh()


func quick_match() -> void:
	status = "finding a room ..."
	Relay.join_or_create(mode(), {}, 8)


# Queues for the mode in the field, or leaves the queue.
func toggle_queue() -> void:
	if Relay.client.meeting.queued:
		Relay.queue_leave()
		status = "left the queue"
	else:
		Relay.queue_join(mode(), null, 1000.0)
		status = "queued for %s ..." % mode()


func create_party() -> void:
	Relay.create_party()


func join_party(code: String) -> void:
	if code.strip_edges() != "":
		Relay.join_party(code.strip_edges().to_upper())


func leave_party() -> void:
	Relay.leave_party()


func say(text: String) -> void:
	if text.strip_edges() != "":
		Relay.say("global", text.strip_edges())


func toggle_game_mode() -> void:
	game_mode = "rpc" if game_mode == "relay" else "relay"
	refresh()


func mode() -> String:
	var m := mode_field.text.strip_edges()
	return m if m != "" else "arena"


# The party line: its code and members, or how to make one.
func party_text() -> String:
	var p: Dictionary = Relay.get_party()
	if p.get("party_id", 0) == 0:
		return "party: none (P: create one, or type a code and press J)"
	var names := PackedStringArray()
	for m in p["members"]:
		names.append(m[1] + (" (leader)" if m[0] == p["leader"] else ""))
	return "party %s: %s (L: leave)" % [p["code"], ", ".join(names)]


func refresh() -> void:
	if _status == null:
		return
	_status.text = status
	_party.text = party_text()
	_announce.text = ("operator: " + announcement) if announcement != "" else ""
	_chat.text = "\n".join(PackedStringArray(chat_lines))
	var queued: bool = Relay.client.meeting.queued
	_help.text = "Q quick match    M %s    P party    J join party    R play with: %s    Enter chat" % [
		"leave the queue" if queued else "queue for a match", "@rpc + MultiplayerSynchronizer" if game_mode == "rpc" else "Relay API"]


func _process(_delta: float) -> void:
	refresh()


func _on_announcement(text: String) -> void:
	announcement = text


func _on_channel_joined(info: Dictionary) -> void:
	for l in info["history"]:
		_add_line("%s: %s" % [l[1], l[3]])
	_add_line("* in #%s with %d players" % [info["name"], info["count"]])


func _on_channel_message(channel: String, _from_id: int, from_name: String, text: String) -> void:
	_add_line(("[party] " if channel == "party" else "") + "%s: %s" % [from_name, text])


func _add_line(line: String) -> void:
	chat_lines.append(line)
	while chat_lines.size() > MAX_LINES:
		chat_lines.pop_front()


func _build() -> void:
	_title = _label(Vector2(20, 80), "LOBBY", 22)
	_status = _label(Vector2(20, 116), "", 15)
	_announce = _label(Vector2(20, 144), "", 15)
	_announce.add_theme_color_override("font_color", Color(1.0, 0.8, 0.3))
	_label(Vector2(20, 184), "mode", 15)
	mode_field = _field(Vector2(80, 180), Vector2(160, 30), "arena")
	mode_field.text = "arena"
	_label(Vector2(260, 184), "party code", 15)
	code_field = _field(Vector2(360, 180), Vector2(120, 30), "ABC123")
	_party = _label(Vector2(20, 222), "", 15)
	_label(Vector2(20, 262), "#global", 15)
	_chat = _label(Vector2(20, 290), "", 14)
	_chat.size = Vector2(900, 200)
	chat_field = _field(Vector2(20, 500), Vector2(920, 32), "Enter: say something in #global")
	chat_field.text_submitted.connect(_on_chat_submitted)
	_help = _label(Vector2(20, 552), "", 14)


func _on_chat_submitted(text: String) -> void:
	say(text)
	chat_field.clear()
	chat_field.release_focus()


func _label(pos: Vector2, text: String, font_size: int) -> Label:
	var l := Label.new()
	l.position = pos
	l.text = text
	l.add_theme_font_size_override("font_size", font_size)
	add_child(l)
	return l


func _field(pos: Vector2, size: Vector2, hint: String) -> LineEdit:
	var f := LineEdit.new()
	f.position = pos
	f.size = size
	f.placeholder_text = hint
	f.max_length = 200
	add_child(f)
	return f


# True while one of the lobby's text fields has the keyboard.
func typing() -> bool:
	return mode_field.has_focus() or code_field.has_focus() or chat_field.has_focus()
