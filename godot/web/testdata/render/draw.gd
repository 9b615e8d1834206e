# Draws a red square on a blue background, then says so on the console
# (once a few frames have been shown).
extends Node2D

var frames = 0


func _ready():
	RenderingServer.set_default_clear_color(Color(0, 0, 1))


func _draw():
	draw_rect(Rect2(0, 0, 100, 100), Color(1, 0, 0))


func _process(_delta):
	frames += 1
	if frames == 10:
		print("render: drawn %dx%d" % [get_viewport().get_visible_rect().size.x, get_viewport().get_visible_rect().size.y])
