# The multiplayer peer across a resume (Godot 4 only): two pages in one room
# (godot/enginetest/multiplayer_test.go), the second behind a TCP proxy that
# the Go test cuts. While the second page's client resumes, its peer must
# stay CONNECTED (SceneMultiplayer keeps its peers: no server_disconnected,
# no peer_disconnected), and the reliable @rpc calls the first page made
# while it was away must arrive once it is back, exactly once and in order.
#   first:  waits until the relay shows the second away, then calls
#           ping(1..n) on it; prints "mp-resume: sent while away"; waits for
#           its mark "back"
#   second: prints "mp-resume: ready" once it sees peer 1; after the cut and
#           the resume, gets ping(1..n), marks "back"
#
#   args: port, mode, role (first|second), [n=10] [timeout-ms=40000]
extends Node

const Client = preload("res://addons/tickrelay/client.gd")
const Peer = preload("res://addons/tickrelay/tickrelay_multiplayer_peer.gd")
const Game = preload("res://tests/mp_game.gd")

var h
var done := false
var c
var peer
var game
var role := ""
var n := 10
var deadline := 0
var step := 0
var statuses := {}  # the peer's connection statuses seen, each frame
var lost := []  # SceneMultiplayer's server_disconnected / peer_disconnected
var resumed := false
var away_peer := 0  # the first page: the second page's peer id
var room_log := []  # the room's changes as this client saw them, for a failure's message


func _ready() -> void:
	h = preload("res://tests/harness.gd").new()
	var a = h.args()
	role = a.get("role", "")
	n = int(a.get("n", "10"))
	deadline = Time.get_ticks_msec() + int(a.get("timeout-ms", "40000"))
	game = Game.new()
	get_tree().root.add_child(game)
	c = Client.new()
	c.reconnected.connect(func(): resumed = true; room_log.append("reconnected"))
	c.player_joined.connect(func(id, _name, _props): room_log.append("joined %d" % id))
	c.player_left.connect(func(id): room_log.append("left %d" % id))
	c.master_changed.connect(func(id): room_log.append("master %d" % id))
	h.check(c.connect_to_server("127.0.0.1", int(a.get("port", "0")), {"name": role}) == OK, "connect")
	c.join_or_create(a.get("mode", "mp"), null, 2)


func _exit_tree() -> void:
	if is_instance_valid(game):
		game.queue_free()
	if c != null:
		c.disconnect_from_server()


func _process(_delta: float) -> void:
	if done:
		return
	if Time.get_ticks_msec() > deadline:
		h.check(false, "%s: timed out at step %d (statuses %s, lost %s, reliable %s; player %d, master %d, resumes %d, room %s)" % [role, step, str(statuses), str(lost), str(game.reliable), c.player_id, c.master_id, c.stats["resumes"], str(room_log)])
		done = true
		return
	if peer == null:
		c.poll()
		if c.room_id != 0 and c.master_id != 0:
			peer = Peer.new(c, {"poll_client": true})
			multiplayer.server_disconnected.connect(func(): lost.append("server_disconnected"))
			multiplayer.peer_disconnected.connect(func(id): lost.append("peer_disconnected %d" % id))
			multiplayer.multiplayer_peer = peer
		return
	statuses[peer.get_connection_status()] = true
	if role == "first" and step == 1:
		# The second page leaves as soon as its mark is sent: the mark
		# comes before that leave (its last packets first), and it is
		# looked for whether or not the peer is still there.
		if game.has_mark(away_peer, "back"):
			h.check(lost.is_empty(), "first: no peer lost before the mark: %s" % str(lost))
			done = true
		return
	if role == "second" and step == 2:
		# The mark is on its way (the first page may end as soon as it has it).
		done = c.unacked_messages() == 0
		return
	if multiplayer.get_peers().size() != 1:
		return
	if role == "first":
		first()
	else:
		second()


func first() -> void:
	var other: int = multiplayer.get_peers()[0]
	var player: int = peer.player_of(other)
	if step == 0 and c.players.has(player) and not c.players[player].connected:
		for i in range(1, n + 1):
			game.ping.rpc_id(other, i)
		print("mp-resume: sent while away")
		away_peer = other
		step = 1


func second() -> void:
	var other: int = multiplayer.get_peers()[0]  # 1 or not: either may be the master
	if step == 0:
		print("mp-resume: ready")
		step = 1
	elif step == 1 and game.reliable.get(other, []).size() >= n:
		h.check(resumed and c.stats["resumes"] == 1, "second: resumed once (%d)" % c.stats["resumes"])
		h.check(statuses.keys() == [MultiplayerPeer.CONNECTION_CONNECTED], "second: the peer stayed CONNECTED throughout: %s" % str(statuses.keys()))
		h.check(lost.is_empty(), "second: SceneMultiplayer lost nothing: %s" % str(lost))
		h.check(game.reliable[other] == range(1, n + 1), "second: the calls made while away, once and in order: %s" % str(game.reliable[other]))
		game.mark.rpc_id(other, "back")
		step = 2
