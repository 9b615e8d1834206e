# The test runner of godot/web (Godot 4 only): the main scene of a test
# pack. It runs the steps of res://gdrun/plan.json in order, in one engine,
# and prints the lines godot/web parses from the browser's console:
#
#   gdrun: start <steps>
#   gdrun: begin <script>
#   gdrun: end <script> exit=<0|1> passed=<n> failed=<n> ms=<n>
#   gdrun: load <script> ok|failed
#   gdrun: done <failed steps>
#
# A step is {"script": "res://...", "kind": ..., "args": {...}}:
#   "tree" (the default): a test script that extends SceneTree, as the engine
#     tests run with `-s` on Godot 3. It is attached to the running SceneTree,
#     which runs its _init (the whole test) at once; the harness
#     (res://tests/harness.gd) sees the "gdrun" meta and does not quit.
#   "node": a Node test (Godot 4 only) that runs over frames: it is added to
#     the tree and the runner waits, frame by frame, until its `done` is true;
#     its result is its harness `h`. Needed for anything that waits on the
#     browser (a WebSocket only makes progress between frames).
#   "load": only load the script: it must parse and compile.
# args become what harness.args() returns for that step.
#
# The release engine does not stop on script errors: a step whose result
# cannot be read counts as failed, and godot/web also fails a run whose
# output has "SCRIPT ERROR" or "Parse Error".
extends Node

const PLAN = "res://gdrun/plan.json"


func _ready():
	# Not while the engine is still starting: a quit() then loses its code.
	_run.call_deferred()


func _run():
	Engine.set_meta("gdrun", true)
	var plan = JSON.parse_string(FileAccess.get_file_as_string(PLAN))
	if typeof(plan) != TYPE_ARRAY:
		print("gdrun: bad plan in %s" % PLAN)
		_finish(1)
		return
	print("gdrun: start %d" % plan.size())
	var failed = 0
	for step in plan:
		var kind = step.get("kind", "tree")
		var ok = false
		Engine.set_meta("gdtest_args", step.get("args", {}))
		if kind == "load":
			ok = _load(step["script"])
		elif kind == "node":
			ok = await _run_node(step["script"], float(step.get("timeout_s", 60)))
		else:
			ok = _run_tree(step["script"])
		if not ok:
			failed += 1
	_finish(failed)


func _finish(failed):
	print("gdrun: done %d" % failed)
	get_tree().quit(0 if failed == 0 else 1)


func _load(path):
	var script = load(path)
	var ok = script != null and script.can_instantiate()
	print("gdrun: load %s %s" % [path, "ok" if ok else "failed"])
	return ok


# A SceneTree test: attached to the tree, its _init runs the test.
func _run_tree(path):
	print("gdrun: begin %s" % path)
	var t0 = Time.get_ticks_msec()
	var script = load(path)
	if script == null or not script.can_instantiate():
		return _end(path, null, t0)
	var tree = get_tree()
	tree.set_script(script)
	var h = tree.get("h")
	tree.set_script(null)
	return _end(path, h, t0)


# A Node test: runs over frames until its `done` is true.
func _run_node(path, timeout_s):
	print("gdrun: begin %s" % path)
	var t0 = Time.get_ticks_msec()
	var script = load(path)
	if script == null or not script.can_instantiate():
		return _end(path, null, t0)
	var node = script.new()
	add_child(node)
	var deadline = t0 + int(timeout_s * 1000)
	while is_instance_valid(node) and not node.get("done"):
		if Time.get_ticks_msec() > deadline:
			print("FAIL: %s did not finish within %.0f s" % [path, timeout_s])
			node.queue_free()
			return _end(path, null, t0)
		await get_tree().process_frame
	var h = node.get("h") if is_instance_valid(node) else null
	var ok = _end(path, h, t0)
	if is_instance_valid(node):
		node.queue_free()
	return ok


func _end(path, h, t0):
	var passed = -1
	var failed = -1
	if h != null and h.get("passed") != null:
		passed = h.passed
		failed = h.failed
	var ok = passed > 0 and failed == 0
	print("gdrun: end %s exit=%d passed=%d failed=%d ms=%d" % [path, 0 if ok else 1, passed, failed, Time.get_ticks_msec() - t0])
	return ok
