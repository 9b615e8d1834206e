# The game scene of tests/mp_test.gd (Godot 4 only: @rpc): the same node
# tree on every page, built in code at /root/MPGame, so that SceneMultiplayer
# finds the same paths everywhere:
#   MPGame (this script: the RPCs)
#     Spawner  MultiplayerSpawner (spawn_function), spawning under Spawned
#     Spawned
#     Box      Node2D whose position a MultiplayerSynchronizer replicates
extends Node

var spawner: MultiplayerSpawner
var box: Node2D
var box_sync: MultiplayerSynchronizer
# Received calls: sender peer id -> [seq, ...] in arrival order.
var reliable := {}
var unreliable := {}
var to_authority := []  # [sender, value] of calls made with rpc_id(1, ...)
var marks := {}  # sender -> [mark, ...]


func _init() -> void:
	name = "MPGame"
	spawner = MultiplayerSpawner.new()
	spawner.name = "Spawner"
	spawner.spawn_path = NodePath("../Spawned")
	spawner.spawn_function = _spawn
	add_child(spawner)
	var spawned := Node.new()
	spawned.name = "Spawned"
	add_child(spawned)
	box = Node2D.new()
	box.name = "Box"
	add_child(box)
	box_sync = MultiplayerSynchronizer.new()
	box_sync.name = "Sync"
	var cfg := SceneReplicationConfig.new()
	cfg.add_property(NodePath(".:position"))
	cfg.property_set_replication_mode(NodePath(".:position"), SceneReplicationConfig.REPLICATION_MODE_ALWAYS)
	box_sync.replication_config = cfg
	box_sync.root_path = NodePath("..")
	box.add_child(box_sync)


# What the spawner makes on every peer from the authority's data.
func _spawn(data: Variant) -> Node:
	var n := Node2D.new()
	n.name = str(data["name"])
	n.position = Vector2(data["x"], 0)
	n.set_meta("spawned_by", multiplayer.get_remote_sender_id())
	return n


@rpc("any_peer", "call_remote", "reliable")
func ping(seq: int) -> void:
	var from := multiplayer.get_remote_sender_id()
	if not reliable.has(from):
		reliable[from] = []
	reliable[from].append(seq)


@rpc("any_peer", "call_remote", "unreliable")
func pos(seq: int) -> void:
	var from := multiplayer.get_remote_sender_id()
	if not unreliable.has(from):
		unreliable[from] = []
	unreliable[from].append(seq)


@rpc("any_peer", "call_remote", "reliable")
func tell_authority(value: String) -> void:
	to_authority.append([multiplayer.get_remote_sender_id(), value])


@rpc("any_peer", "call_remote", "reliable")
func mark(what: String) -> void:
	var from := multiplayer.get_remote_sender_id()
	if not marks.has(from):
		marks[from] = []
	marks[from].append(what)


func has_mark(from: int, what: String) -> bool:
	return marks.has(from) and marks[from].has(what)


func spawned_names() -> Array:
	var out := []
	for n in get_node("Spawned").get_children():
		if not n.is_queued_for_deletion():
			out.append(str(n.name))
	out.sort()
	return out
