# Editor plugin (Godot 4 only): adds the Relay autoload and the tickrelay/*
# Project Settings when enabled, removes the autoload when disabled. The
# networking itself is in client.gd (see relay_node.gd).
@tool
extends EditorPlugin

const AUTOLOAD_NAME = "Relay"
const AUTOLOAD_PATH = "res://addons/tickrelay/relay_node.gd"

# [name, default, type, hint, hint_string]
const SETTINGS = [
	["tickrelay/host", "127.0.0.1", TYPE_STRING, PROPERTY_HINT_NONE, ""],
	["tickrelay/port", 7777, TYPE_INT, PROPERTY_HINT_RANGE, "1,65535"],
	["tickrelay/url", "", TYPE_STRING, PROPERTY_HINT_PLACEHOLDER_TEXT, "wss://relay.example.com/ (optional)"],
	["tickrelay/transport", "auto", TYPE_STRING, PROPERTY_HINT_ENUM, "auto,kcp,websocket"],
	["tickrelay/player_name", "", TYPE_STRING, PROPERTY_HINT_NONE, ""],
	["tickrelay/auto_connect", false, TYPE_BOOL, PROPERTY_HINT_NONE, ""],
	["tickrelay/connect_timeout_ms", 5000, TYPE_INT, PROPERTY_HINT_RANGE, "500,60000"],
	["tickrelay/mtu", 1200, TYPE_INT, PROPERTY_HINT_RANGE, "576,1400"],
	["tickrelay/tick_interpolation_delay_ms", 100, TYPE_INT, PROPERTY_HINT_RANGE, "0,1000"],
	["tickrelay/interpolation_max_gap_ms", 250, TYPE_INT, PROPERTY_HINT_RANGE, "0,5000"],
]


func _enter_tree() -> void:
	_register_settings()


func _enable_plugin() -> void:
	_register_settings()
	add_autoload_singleton(AUTOLOAD_NAME, AUTOLOAD_PATH)
	ProjectSettings.save()


func _disable_plugin() -> void:
	remove_autoload_singleton(AUTOLOAD_NAME)
	ProjectSettings.save()


func _register_settings() -> void:
	for s in SETTINGS:
		var key: String = s[0]
		if not ProjectSettings.has_setting(key):
			ProjectSettings.set_setting(key, s[1])
		ProjectSettings.set_initial_value(key, s[1])
		ProjectSettings.set_as_basic(key, true)
		ProjectSettings.add_property_info({"name": key, "type": s[2], "hint": s[3], "hint_string": s[4]})
