# A Node test that runs over frames: done after five of them.
extends Node


class Counter:
	var passed = 0
	var failed = 0


var h = Counter.new()
var done = false
var frames = 0


func _process(_delta):
	frames += 1
	if frames == 5:
		h.passed = frames
		done = true
