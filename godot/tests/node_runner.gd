# Runs a Node test (a script that runs over frames and sets `done`, its
# result in its harness `h`, as godot/web's runner runs them in Godot 4.6)
# in Godot 3: adds it to the tree, then quits with its summary's code.
#
#   godot3-server --no-window --path PROJECT -s res://tests/node_runner.gd -- \
#       --node=meeting_e2e_test.gd [the node's own arguments]
extends SceneTree

var node


func _init():
	var a = preload("res://tests/harness.gd").new().args()
	var script = load("res://tests/" + a.get("node", ""))
	if script == null:
		print("node_runner: cannot load res://tests/%s" % a.get("node", ""))
		quit(1)
		return
	node = script.new()
	get_root().add_child(node)


func _idle(_delta):
	if node != null and node.done:
		var code = node.h.summary()
		node = null
		quit(code)
	return false
