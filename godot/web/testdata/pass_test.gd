# Passes: a class_name script resolves (the pack's class cache), and the
# step's arguments arrive.
extends SceneTree


class Counter:
	var passed = 0
	var failed = 0

	func check(cond, what):
		if cond:
			passed += 1
		else:
			failed += 1
			print("FAIL: ", what)


var h = Counter.new()


func _init():
	h.check(Greeter.new().greet("web") == "hello web", "class_name Greeter")
	var args = Engine.get_meta("gdtest_args", {})
	h.check(args.get("answer") == "42", "step args: %s" % str(args))
	h.check(Engine.get_version_info()["major"] == 4 and Engine.get_version_info()["minor"] == 6, "Godot 4.6: %s" % str(Engine.get_version_info()))
	h.check(OS.has_feature("web"), "a web build")
	print("gdtest: %d passed, %d failed" % [h.passed, h.failed])
