# The demo's arena played with Godot's high-level multiplayer instead of the
# Relay API: once in a room, the tickrelay MultiplayerPeer
# (addons/tickrelay/tickrelay_multiplayer_peer.gd) becomes the SceneTree's
# multiplayer peer; every peer makes a node per connected peer
# (rpc_player.gd, named by its peer id, under its authority), whose
# MultiplayerSynchronizer carries position and colour, and waves are @rpc
# calls. main.gd moves this player's node and draws them all.
#
# Host migration: when the room's master leaves, the peer emits
# peer_disconnected for the old peer 1 (its node goes) and for the new
# master's old id, and peer_connected(1) for the new master (a node "1" is
# made for it). On the new master itself, the peer renames its own id to 1:
# host_migrated() renames its node and hands it to authority 1. Nothing was
# spawned by a MultiplayerSpawner here, so nothing else is lost.
extends Node

const Peer = preload("res://addons/tickrelay/tickrelay_multiplayer_peer.gd")
const Player = preload("rpc_player.gd")

var peer = null
var _mine := {}  # this player's position, colour and name, for its node


func _init() -> void:
	name = "RpcArena"


func active() -> bool:
	return peer != null


# In a room: play it with SceneMultiplayer.
func start(my_pos: Vector2, my_color: Color, my_name: String) -> void:
	stop()
	peer = Peer.new(Relay.client)
	peer.host_migrated.connect(_on_host_migrated)
	multiplayer.peer_connected.connect(_add_player)
	multiplayer.peer_disconnected.connect(_remove_player)
	_mine = {"position": my_pos, "color": my_color, "player_name": my_name}
	multiplayer.multiplayer_peer = peer


# Peer ids follow the room's master, known from the room's first frame:
# this player's node is made once the peer is connected.
func _process(_delta: float) -> void:
	if peer != null and own() == null and peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTED:
		var me := _add_player(multiplayer.get_unique_id())
		for k in _mine:
			me.set(k, _mine[k])
		me.synced = true


func stop() -> void:
	if peer == null:
		return
	multiplayer.peer_connected.disconnect(_add_player)
	multiplayer.peer_disconnected.disconnect(_remove_player)
	multiplayer.multiplayer_peer = null
	peer.close()  # it lets go of Relay.client's signals
	peer = null
	for n in get_children():
		remove_child(n)
		n.queue_free()


# This player's node (null before start()).
func own() -> Node2D:
	return get_node_or_null(str(multiplayer.get_unique_id())) if peer != null else null


func _add_player(id: int) -> Node2D:
	var old := get_node_or_null(str(id))
	if old != null:
		return old
	var p := Player.new()
	p.name = str(id)
	p.set_multiplayer_authority(id)
	add_child(p)
	return p


func _remove_player(id: int) -> void:
	var p := get_node_or_null(str(id))
	if p != null:
		remove_child(p)  # at once: a node of the same name may come next
		p.queue_free()


# The new master is peer 1 from now on. On the new master, its own node
# still has its old name and authority: move it over to 1.
func _on_host_migrated(_old_master: int, new_master: int) -> void:
	if new_master != Relay.get_player_id():
		return
	var old_id: int = new_master + 1  # its id before it was the master
	var mine := get_node_or_null(str(old_id))
	if mine == null:
		return
	var fresh := _add_player(1)
	fresh.position = mine.position
	fresh.color = mine.color
	fresh.player_name = mine.player_name
	fresh.synced = true
	_remove_player(old_id)


# The other players as main.gd draws them: relay player id -> node (those
# whose first sync arrived).
func others() -> Dictionary:
	var out := {}
	if peer == null:
		return out
	var me := multiplayer.get_unique_id()
	for n in get_children():
		var id := int(str(n.name))
		if id != me and id > 0 and n.synced:
			out[peer.player_of(id)] = n
	return out
