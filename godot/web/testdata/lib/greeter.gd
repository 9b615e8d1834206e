class_name Greeter
extends RefCounted


func greet(who):
	return "hello " + who
