# Does not parse.
extends SceneTree


func _init(:
	pass
