# Fails one check of two.
extends SceneTree


class Counter:
	var passed = 0
	var failed = 0


var h = Counter.new()


func _init():
	h.passed = 1
	h.failed = 1
	print("FAIL: two is not three")
