# Godot's high-level multiplayer over the relay (tickrelay_multiplayer_peer.gd),
# one page per peer (godot/enginetest/multiplayer_test.go starts the relay
# and three pages in one room, in order: first, second, third). Godot 4
# only. Every page builds the same scene (tests/mp_game.gd at
# /root/MPGame), connects over WebSocket, quick-matches into the test's
# mode and sets the peer as the SceneTree's multiplayer peer. Then:
#   1. ids: the first (the room's master) is peer 1, the others relay id + 1
#   2. @rpc both ways: N reliable calls from every peer to every other,
#      exactly once and in order; unreliable calls every frame for K frames,
#      the latest arrives; rpc_id(1) reaches the authority
#   3. the authority spawns S1 (MultiplayerSpawner) and moves Box
#      (MultiplayerSynchronizer): every peer sees both
#   4. every page marks phase 1 done; the first page then ends (its page
#      closes without a goodbye, as a player's tab); after the relay's grace
#      the second becomes the master:
#   5. (second, third) host_migrated: the second is peer 1 on both, and what
#      survived is printed ("mp: survived ...") and checked; the new
#      authority moves Box and spawns S2, the third sees both, rpc_id(1)
#      reaches the new authority, reliable calls both ways
#
#   args: port, mode, role (first|second|third), [n=20] [k=30] [timeout-ms=40000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")
const Peer = preload("res://addons/tickrelay/tickrelay_multiplayer_peer.gd")
const Game = preload("res://tests/mp_game.gd")

var h
var done := false  # the runner waits for it
var c
var peer
var game
var role := ""
var n := 20
var k := 30
var phase := 0
var deadline := 0
var sent_unreliable := 0
var phase_start := 0
var migrations := []  # [old, new] relay ids
var first_player := 0  # the first page's relay id (the master at first)
var ids_at_start := {}  # relay id -> peer id on this page, in phase 1


func _ready() -> void:
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	role = a.get("role", "")
	n = int(a.get("n", "20"))
	k = int(a.get("k", "30"))
	deadline = Time.get_ticks_msec() + int(a.get("timeout-ms", "40000"))
	game = Game.new()
	get_tree().root.add_child(game)
	c = Client.new()
	var err = c.connect_to_server("127.0.0.1", int(a.get("port", "0")), {"name": role})
	h.check(err == OK, "connect: %d" % err)
	c.join_or_create(a.get("mode", "mp"), null, 4)
	phase = 1


func _exit_tree() -> void:
	if is_instance_valid(game):
		game.queue_free()


func finish() -> void:
	done = true
	set_process(false)


func _process(_delta: float) -> void:
	if done:
		return
	if Time.get_ticks_msec() > deadline:
		h.check(false, "%s: timed out in phase %d (peers %s, unique id %d, master %d)" % [role, phase,
			str(multiplayer.get_peers()) if peer != null else "-", multiplayer.get_unique_id() if peer != null else 0, c.master_id])
		report_state()
		finish()
		return
	if peer == null:
		c.poll()
		if c.status == Client.STATUS_DISCONNECTED:
			h.check(false, "%s: disconnected" % role)
			finish()
			return
		if c.room_id != 0 and c.master_id != 0:
			peer = Peer.new(c, {"poll_client": true})
			peer.host_migrated.connect(func(o, nw): migrations.append([o, nw]))
			multiplayer.multiplayer_peer = peer
			print("mp: %s in room %d as player %d, master %d" % [role, c.room_id, c.player_id, c.master_id])
		return
	if phase == 1:
		phase_one()
	elif phase == 2:
		wait_mark("phase1", 3)
	elif phase == 3:
		phase_migration()
	elif phase == 4:
		phase_after()
	elif phase == 5:
		wait_mark("phase2", 6)
	elif phase == 6:
		c.disconnect_from_server()
		finish()


func others() -> Array:
	var p: Array = multiplayer.get_peers()
	p.sort()
	return p


var started_one := false


func phase_one() -> void:
	var peers := others()
	if not started_one:
		if peers.size() < 2:
			return
		started_one = true
		first_player = c.master_id
		var me: int = multiplayer.get_unique_id()
		if role == "first":
			h.check(me == 1 and multiplayer.is_server(), "first: peer 1, the authority (unique id %d)" % me)
		else:
			h.check(me == c.player_id + 1 and not multiplayer.is_server(), "%s: peer id %d, want %d" % [role, me, c.player_id + 1])
		for player in c.players:
			if player != c.player_id:
				ids_at_start[player] = peer.peer_id_of(player)
		var want := []
		for player in ids_at_start:
			want.append(1 if player == c.master_id else player + 1)
		want.sort()
		h.check(peers == want, "%s: peers %s, want %s" % [role, str(peers), str(want)])
		for i in range(1, n + 1):
			game.ping.rpc(i)
		if role == "first":
			game.spawner.spawn({"name": "S1", "x": 5})
			game.box.position = Vector2(123, 45)
		else:
			game.tell_authority.rpc_id(1, role)
	if sent_unreliable < k:
		sent_unreliable += 1
		game.pos.rpc(sent_unreliable)
		return
	# Wait for everything.
	if Time.get_ticks_msec() > phase_start + 2000:
		phase_start = Time.get_ticks_msec()
		var dbg := []
		for p in peers:
			dbg.append([p, game.reliable.get(p, []).size(), game.unreliable.get(p, [-1])[-1]])
		print("mp: waiting %s %s spawned=%s box=%s" % [role, str(dbg), str(game.spawned_names()), str(game.box.position)])
	for p in peers:
		if game.reliable.get(p, []).size() < n or game.unreliable.get(p, []).is_empty() or game.unreliable[p][-1] != k:
			return
	if role == "first":
		var from := []
		for x in game.to_authority:
			from.append(x[0])
		from.sort()
		if from != peers:
			return
	else:
		if not game.spawned_names().has("S1") or game.box.position != Vector2(123, 45):
			return
	for p in peers:
		var want := range(1, n + 1)
		h.check(game.reliable[p] == want, "%s: reliable calls from %d: %s" % [role, p, str(game.reliable[p])])
		var u: Array = game.unreliable[p]
		var increasing := true
		for i in range(1, u.size()):
			increasing = increasing and u[i] > u[i - 1]
		h.check(increasing and u[-1] == k, "%s: unreliable calls from %d arrive in order, the latest last: %s" % [role, p, str(u)])
		print("mp: %s got %d of %d unreliable calls from peer %d" % [role, u.size(), k, p])
	if role != "first":
		h.check(game.spawned_names() == ["S1"], "%s: spawned %s" % [role, str(game.spawned_names())])
		var s1: Node = game.get_node("Spawned/S1")
		h.check(s1.position == Vector2(5, 0) and s1.get_meta("spawned_by", -1) == 1, "%s: S1 made from the authority's data" % role)
	else:
		h.check(game.to_authority.size() == 2, "first: rpc_id(1) from each: %s" % str(game.to_authority))
	game.mark.rpc("phase1")
	phase = 2


func wait_mark(what: String, next: int) -> void:
	for p in others():
		if not game.has_mark(p, what):
			return
	if next == 3 and role == "first":
		print("mp: first done; its page closes")
		finish()  # the page closes without a bye
		return
	phase = next
	phase_start = Time.get_ticks_msec()


# Waits for the relay to make the second page the master (after the first
# page closed and its grace ran out), then checks what survived.
func phase_migration() -> void:
	if migrations.is_empty():
		return
	var m = migrations[0]
	var second: int = c.player_id if role == "second" else c.master_id
	h.check(migrations.size() == 1 and m[0] == first_player and m[1] == second, "%s: host_migrated %s, want [%d, %d]" % [role, str(migrations), first_player, second])
	var me: int = multiplayer.get_unique_id()
	var peers := others()
	if role == "second":
		h.check(me == 1 and multiplayer.is_server(), "second: now peer 1 (unique id %d)" % me)
		h.check(peers.size() == 1 and peers[0] == ids_at_start.keys().filter(func(x): return x != first_player)[0] + 1, "second: the third keeps its id: %s" % str(peers))
	else:
		h.check(me == c.player_id + 1 and not multiplayer.is_server(), "third: keeps its id %d" % me)
		h.check(peers == [1], "third: the new master is peer 1: %s" % str(peers))
	# What SceneMultiplayer kept (godot/README.md, "Host migration").
	var names: Array = game.spawned_names()
	print("mp: survived role=%s unique_id=%d peers=%s spawned=%s box=%s box_authority=%d spawner_authority=%d" % [
		role, me, str(peers), str(names), str(game.box.position), game.box.get_multiplayer_authority(), game.spawner.get_multiplayer_authority()])
	h.check(names.is_empty(), "%s: nodes spawned by the old authority are freed with its peer: %s" % [role, str(names)])
	h.check(game.box.position == Vector2(123, 45), "%s: a scene node keeps its synced value" % role)
	h.check(game.box.get_multiplayer_authority() == 1 and game.spawner.get_multiplayer_authority() == 1, "%s: default authority stays 1 (now the new master)" % role)
	game.reliable.clear()
	game.to_authority.clear()
	for i in range(101, 106):
		game.ping.rpc(i)
	if role == "second":
		game.spawner.spawn({"name": "S2", "x": 9})
		game.box.position = Vector2(7, 8)
	else:
		game.tell_authority.rpc_id(1, "after")
	phase = 4


func phase_after() -> void:
	var peers := others()
	if Time.get_ticks_msec() > phase_start + 2000:
		phase_start = Time.get_ticks_msec()
		print("mp: waiting after %s reliable=%s to_auth=%s spawned=%s box=%s" % [role, str(game.reliable), str(game.to_authority), str(game.spawned_names()), str(game.box.position)])
	for p in peers:
		if game.reliable.get(p, []).size() < 5:
			return
	if role == "second":
		if game.to_authority.is_empty():
			return
		h.check(game.to_authority == [[peers[0], "after"]], "second: rpc_id(1) reaches the new authority: %s" % str(game.to_authority))
	else:
		if not game.spawned_names().has("S2") or game.box.position != Vector2(7, 8):
			return
		h.check(game.spawned_names() == ["S2"], "third: the new authority's spawn: %s" % str(game.spawned_names()))
		h.check(game.get_node("Spawned/S2").get_meta("spawned_by", -1) == 1, "third: S2 came from peer 1")
	for p in peers:
		h.check(game.reliable[p] == [101, 102, 103, 104, 105], "%s: reliable calls after the migration from %d: %s" % [role, p, str(game.reliable[p])])
	print("mp: %s carried on after the migration in %d ms" % [role, Time.get_ticks_msec() - phase_start])
	game.mark.rpc("phase2")
	phase = 5


func report_state() -> void:
	if game == null or peer == null:
		return
	print("mp: state role=%s reliable=%s unreliable_last=%s to_authority=%s marks=%s spawned=%s box=%s migrations=%s" % [
		role, str(game.reliable.keys()), str(game.unreliable.keys()), str(game.to_authority), str(game.marks), str(game.spawned_names()), str(game.box.position), str(migrations)])
