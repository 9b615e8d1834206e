# The "Relay" autoload (the plugin registers it): owns a client.gd, polls it
# every frame, re-emits its signals and reads the tickrelay/* Project
# Settings. In the GDScript subset that both Godot 3.2+ and Godot 4.x accept.
#
#     Relay.connected.connect(_on_connected)              # Godot 4
#     Relay.connect_to_server()                           # host/port from settings
#     Relay.join_or_create("arena", {}, 8)
#     Relay.set_state({"pos": position})                  # every frame
#     var pos = Relay.sample(id)                          # interpolated state
#
# Everything of client.gd is reachable as Relay.client (the room view:
# Relay.client.players, master_id, room_code, ...).
extends Node

const Client = preload("client.gd")
const Interpolation = preload("interpolation.gd")

const DEFAULT_HOST = "127.0.0.1"
const DEFAULT_PORT = 7777

# The signals of client.gd, emitted on this node (see client.gd for each).
signal connected(player_id)
signal redirected(player_id)
signal disconnected(code, reason)
signal error(request_id, code, message)
signal request_ok(request_id)
signal room_joined(room_id, code)
signal room_left(code)
signal room_list(request_id, rooms)
signal player_joined(id, player_name, props)
signal player_left(id)
signal master_changed(id)
signal locked_changed(locked)
signal room_props_changed(props)
signal player_props_changed(id, props)
signal player_presence_changed(id, connected)
signal state_received(id, value, tick)
signal event_received(from, code, payload, tick)
signal chat_received(from, to, text, time_ms)
signal pong(rtt_ms)
signal reconnecting(code, reason)
signal reconnected()
signal announcement(text)
signal match_found(info)
signal match_ended(outcome)
signal party_changed(party)
signal channel_joined(info)
signal channel_members_received(request_id, info)
signal channel_message(channel, from_id, from_name, text)
signal peer_packet_received(from, mode, channel, data)

var client
var interpolation


func _init():
	client = Client.new()
	client.signal_target = self
	interpolation = Interpolation.new()
	client.interpolator = interpolation
	# Poll before the game's own nodes, and keep the connection alive while
	# the game is paused.
	process_priority = -100
	if has_method("set_process_mode"):
		call("set_process_mode", 3)  # Godot 4: PROCESS_MODE_ALWAYS
	else:
		call("set_pause_mode", 2)  # Godot 3: PAUSE_MODE_PROCESS


func _ready():
	interpolation.delay_ms = float(setting("tickrelay/tick_interpolation_delay_ms", 100))
	interpolation.max_gap_ms = float(setting("tickrelay/interpolation_max_gap_ms", 250))
	if setting("tickrelay/auto_connect", false):
		connect_to_server()


func _process(_delta):
	client.poll()
	if client.tick_rate > 0:
		interpolation.tick_rate = client.tick_rate


func _exit_tree():
	client.disconnect_from_server()


# A Project Setting, or `fallback` when the project does not have it.
func setting(key, fallback):
	if ProjectSettings.has_setting(key):
		return ProjectSettings.get_setting(key)
	return fallback


# Connects; host "" and port 0 take tickrelay/host and tickrelay/port. Options
# as in client.gd; name, timeout_ms and mtu default to tickrelay/player_name,
# tickrelay/connect_timeout_ms and tickrelay/mtu, and url (a ws:// or wss://
# URL, used instead of host and port) and transport to tickrelay/url and
# tickrelay/transport when they are set.
func connect_to_server(host = "", port = 0, options = {}):
	if host == "":
		host = setting("tickrelay/host", DEFAULT_HOST)
	if port <= 0:
		port = int(setting("tickrelay/port", DEFAULT_PORT))
	var opts = options.duplicate()
	if not opts.has("name"):
		opts["name"] = setting("tickrelay/player_name", "")
	if not opts.has("timeout_ms"):
		opts["timeout_ms"] = int(setting("tickrelay/connect_timeout_ms", 5000))
	if not opts.has("mtu"):
		opts["mtu"] = int(setting("tickrelay/mtu", 1200))
	if not opts.has("url") and str(setting("tickrelay/url", "")) != "":
		opts["url"] = str(setting("tickrelay/url", ""))
	if not opts.has("transport") and str(setting("tickrelay/transport", "")) != "":
		opts["transport"] = str(setting("tickrelay/transport", ""))
	return client.connect_to_server(host, port, opts)


func disconnect_from_server():
	client.disconnect_from_server()


func is_connected_to_server():
	return client.is_connected_to_server()


# True while the link is lost and the session is being resumed.
func is_reconnecting():
	return client.is_reconnecting()


# Resumes the session on a new connection now (after a network change the
# game noticed); see client.gd.
func resume_now():
	return client.resume_now()


func is_in_room():
	return client.is_in_room()


func get_player_id():
	return client.player_id


func is_master():
	return client.room_id != 0 and client.master_id == client.player_id


func get_room_code():
	return client.room_code


func get_players():
	return client.players


func create_room(options = {}):
	return client.create_room(options)


func join_room(id):
	return client.join_room(id)


func join_by_code(code):
	return client.join_by_code(code)


func list_rooms(mode = "", filter = null, limit = 0):
	return client.list_rooms(mode, filter, limit)


func join_or_create(mode, props = null, max_players = 0):
	return client.join_or_create(mode, props, max_players)


func leave_room():
	return client.leave_room()


func set_room_props(props):
	return client.set_room_props(props)


func set_player_props(props):
	return client.set_player_props(props)


func set_locked(value):
	return client.set_locked(value)


func kick(id):
	return client.kick(id)


func set_state(value):
	client.set_state(value)


# A state value received with the option decode_states = false, decoded.
func decode_state(value):
	return client.decode_state(value)


func send_event(target, code, payload = null, ids = null):
	return client.send_event(target, code, payload, ids)


func chat(text):
	return client.chat(text)


func direct_message(to, text):
	return client.direct_message(to, text)


# Player id's state, interpolated at the estimated server tick minus
# tickrelay/tick_interpolation_delay_ms; null for an unknown player.
func sample(id):
	return interpolation.sample(id, client.estimated_server_tick())


func estimated_server_tick():
	return client.estimated_server_tick()


# The meeting place (see client.gd): the matchmaker's queue, parties, lobby
# chat channels.
func queue_join(mode, regions = null, skill = 0.0, props = null):
	return client.queue_join(mode, regions, skill, props)


func queue_leave():
	return client.queue_leave()


func request_backfill(teams):
	return client.request_backfill(teams)


func create_party():
	return client.create_party()


func join_party(code):
	return client.join_party(code)


func leave_party():
	return client.leave_party()


func get_party():
	return client.get_party()


func join_channel(name):
	return client.join_channel(name)


func leave_channel(name):
	return client.leave_channel(name)


func channel_members(name):
	return client.channel_members(name)


func say(channel, text):
	return client.say(channel, text)
