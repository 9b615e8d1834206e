# A player of the demo's @rpc mode (rpc_arena.gd): one node per peer, named
# by its peer id, under that peer's authority. Its MultiplayerSynchronizer
# sends position and colour from the authority to every other peer; wave()
# is an @rpc every peer runs.
extends Node2D

var color := Color.GRAY
var player_name := ""
var wave_left := 0.0  # s of the wave ring still to draw
# True once this node holds its authority's values (from the first sync;
# this player's own node: from the start).
var synced := false


func _init() -> void:
	var sync := MultiplayerSynchronizer.new()
	sync.name = "Sync"
	var cfg := SceneReplicationConfig.new()
	for prop in [NodePath(".:position"), NodePath(".:color"), NodePath(".:player_name")]:
		cfg.add_property(prop)
		cfg.property_set_replication_mode(prop, SceneReplicationConfig.REPLICATION_MODE_ALWAYS)
	sync.replication_config = cfg
	sync.root_path = NodePath("..")
	sync.synchronized.connect(func(): synced = true)
	add_child(sync)


# Space: every peer (this one too) shows this player's wave.
@rpc("authority", "call_local", "reliable")
func wave() -> void:
	wave_left = 1.0


func _process(delta: float) -> void:
	wave_left = maxf(0.0, wave_left - delta)
