# tickrelay_multiplayer_peer.gd without a relay (Godot 4 only): a client fed
# with server messages directly, its link a recorder. Peer ids (the master
# is 1, the others relay id + 1), the status (connecting before the room's
# first frame, connected after, still connected while resuming,
# disconnected after leaving), peers announced at _poll(), targets and
# modes mapped to peer_packet fields, UNRELIABLE on rotating relay channels
# with Godot's channel in the first byte, received packets in order with
# their sender, mode and channel, and a host migration as each side sees it.
extends SceneTree

const Client = preload("res://addons/tickrelay/client.gd")
const Protocol = preload("res://addons/tickrelay/protocol.gd")
const FakeLink = preload("res://tests/fake_link.gd")
const Peer = preload("res://addons/tickrelay/tickrelay_multiplayer_peer.gd")

var h
var mp
var events := []


func _init() -> void:
	h = preload("res://tests/harness.gd").new()
	mp = preload("res://addons/tickrelay/msgpack.gd").new()
	test_peer()
	test_migration_on_the_new_master()
	test_last_packets_before_a_change()
	h.finish(self)


func feed(c, v) -> void:
	var m = Protocol.new().decode_server(mp.encode(v))
	h.check(m.ok, "test message is malformed: %s %s" % [str(v), m.error])
	c._handle(m, 1000000)


# A client welcomed as player `me`, in room 7 (not yet its first frame).
func client_in_room(me: int):
	var c = Client.new()
	c._opts = Client.DEFAULT_OPTIONS.duplicate()
	c._link = FakeLink.new()
	c.status = Client.STATUS_CONNECTING
	feed(c, [2, 1, me, "tok", 30, 1700000000000, 100])
	feed(c, [31, 1, 7, "ABCDEF", "mp", 8])
	return c


func watch(peer) -> void:
	events.clear()
	peer.peer_connected.connect(func(id): events.append("+%d" % id))
	peer.peer_disconnected.connect(func(id): events.append("-%d" % id))
	peer.host_migrated.connect(func(o, n): events.append("migrated %d->%d" % [o, n]))


func sent(c) -> Array:
	var out := []
	for f in c._link.sent:
		out.append(mp.decode(f.slice(4)).value)
	c._link.sent.clear()
	return out


func test_peer() -> void:
	var c = client_in_room(5)
	var peer = Peer.new(c)
	watch(peer)
	h.check(peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTING, "connecting before the room's first frame")
	# Ana (3) is the master; bo (4) and this player (5).
	feed(c, [40, 101, 1000, [7, true, 3, false, {}, [], [[3, "ana", {}], [4, "bo", {}], [5, "me", {}]], [], []], [], []])
	h.check(peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTED, "connected after it")
	h.check(peer.get_unique_id() == 6 and not peer._is_server(), "this player is peer 6: %d" % peer.get_unique_id())
	h.check(events.is_empty(), "peers are announced at poll, not in the frame: %s" % str(events))
	peer.poll()
	h.check(events == ["+1", "+5"], "ana is peer 1, bo peer 5: %s" % str(events))
	# Sending: targets and modes.
	c._link.sent.clear()
	var data := PackedByteArray([1, 2, 3])
	for t in [[0, MultiplayerPeer.TRANSFER_MODE_RELIABLE, 0], [1, MultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED, 2],
			[5, MultiplayerPeer.TRANSFER_MODE_RELIABLE, 1], [-5, MultiplayerPeer.TRANSFER_MODE_RELIABLE, 0]]:
		peer.set_target_peer(t[0])
		peer.transfer_mode = t[1]
		peer.transfer_channel = t[2]
		h.check(peer.put_packet(data) == OK, "put_packet to %d" % t[0])
	var got := sent(c)
	var want := [[60, 0, 0, 0, data], [60, 3, 2, 2, data], [60, 4, 0, 1, data], [60, -4, 0, 0, data]]
	h.check(str(got) == str(want), "peer packets:\n  got  %s\n  want %s" % [str(got), str(want)])
	# UNRELIABLE: relay channels 128, 129, ... with Godot's channel first.
	peer.set_target_peer(0)
	peer.transfer_mode = MultiplayerPeer.TRANSFER_MODE_UNRELIABLE
	peer.transfer_channel = 3
	peer.put_packet(data)
	peer.put_packet(data)
	got = sent(c)
	h.check(got.size() == 2 and got[0][2] == 1 and got[0][3] == 128 and got[1][3] == 129 and got[0][4] == PackedByteArray([3, 1, 2, 3]), "unreliable: %s" % str(got))
	h.check(peer._get_max_packet_size() == 4095, "the largest packet: the relay's limit less the channel byte")
	var big := PackedByteArray()
	big.resize(4096)
	h.check(peer.put_packet(big) == ERR_INVALID_PARAMETER, "a packet over the relay's limit is refused")
	peer.set_target_peer(9)
	h.check(peer.put_packet(data) == OK, "to a peer id (relay id 8)")
	got = sent(c)
	h.check(got.size() == 1 and got[0][1] == 8, "to peer 9, relay id 8: %s" % str(got))
	# Receiving: reliable from ana, unreliable from bo on Godot channel 3,
	# an ordered one older than the last taken is dropped.
	feed(c, [40, 102, 1000, [7, false, 3, false, null, [], [], [], []], [], [],
		[[3, 0, 0, PackedByteArray([9])], [4, 1, 130, PackedByteArray([3, 7, 7])], [4, 2, 1, PackedByteArray([5])]]])
	c.server_tick = 90  # an ordered packet of an older frame than the last taken
	peer._on_packet(4, Protocol.PEER_UNRELIABLE_ORDERED, 1, PackedByteArray([4]))
	h.check(peer.get_available_packet_count() == 3, "three packets: %d" % peer.get_available_packet_count())
	var rows := []
	while peer.get_available_packet_count() > 0:
		var from: int = peer.get_packet_peer()
		var ch: int = peer.get_packet_channel()
		var mode: int = peer.get_packet_mode()
		rows.append([from, ch, mode, peer.get_packet()])
	var want_rows := [[1, 0, MultiplayerPeer.TRANSFER_MODE_RELIABLE, PackedByteArray([9])], [5, 3, MultiplayerPeer.TRANSFER_MODE_UNRELIABLE, PackedByteArray([7, 7])],
		[5, 1, MultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED, PackedByteArray([5])]]
	h.check(str(rows) == str(want_rows), "received:\n  got  %s\n  want %s" % [str(rows), str(want_rows)])
	# Resuming: still connected.
	c.status = Client.STATUS_RECONNECTING
	h.check(peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTED, "connected while resuming")
	c.status = Client.STATUS_CONNECTED
	# Ana leaves: bo (present longest) is the master, peer 1.
	events.clear()
	feed(c, [40, 103, 1000, [7, false, 4, false, null, [3], [], [], []], [], []])
	peer.poll()
	h.check(events == ["-1", "-5", "+1", "migrated 3->4"], "migration as a member sees it: %s" % str(events))
	h.check(peer.get_unique_id() == 6 and peer.player_of(1) == 4, "ids after it")
	# Leaving the room: disconnected.
	feed(c, [33, 9, 0])
	h.check(peer.get_connection_status() == MultiplayerPeer.CONNECTION_DISCONNECTED, "disconnected after leaving")
	# close(): the client's signals are let go; nothing more is queued.
	peer.close()
	h.check(not c.peer_packet_received.is_connected(peer._on_packet), "close() disconnects from the client")
	h.check(peer.get_connection_status() == MultiplayerPeer.CONNECTION_DISCONNECTED and peer.get_available_packet_count() == 0, "closed")


# The new master: its own id becomes 1 and every other peer is announced
# again (SceneMultiplayer's caches for them start over).
func test_migration_on_the_new_master() -> void:
	var c = client_in_room(4)
	var peer = Peer.new(c)
	watch(peer)
	feed(c, [40, 101, 1000, [7, true, 3, false, {}, [], [[3, "ana", {}], [4, "me", {}], [6, "cy", {}]], [], []], [], []])
	peer.poll()
	h.check(events == ["+1", "+7"] and peer.get_unique_id() == 5, "before: %s, id %d" % [str(events), peer.get_unique_id()])
	events.clear()
	feed(c, [40, 102, 1000, [7, false, 4, false, null, [3], [], [], []], [], []])
	peer.poll()
	h.check(events == ["-1", "-7", "+7", "migrated 3->4"], "migration on the new master: %s" % str(events))
	h.check(peer.get_unique_id() == 1 and peer._is_server(), "the new master is peer 1")


# Everything SceneMultiplayer has taken, as [peer, data].
func take_all(peer) -> Array:
	var rows := []
	while peer.get_available_packet_count() > 0:
		var from: int = peer.get_packet_peer()
		rows.append([from, peer.get_packet()[0]])
	return rows


# A frame that carries a member's last packets with its leave (or the old
# master's with the migration): SceneMultiplayer gets them under the ids
# they were sent under, then the change; a newcomer's packet in the same
# frame waits until it is announced.
func test_last_packets_before_a_change() -> void:
	var c = client_in_room(5)
	var peer = Peer.new(c)
	watch(peer)
	feed(c, [40, 101, 1000, [7, true, 3, false, {}, [], [[3, "ana", {}], [4, "bo", {}], [5, "me", {}]], [], []], [], []])
	peer.poll()
	events.clear()
	# bo (peer 5) sends and leaves; cy (6) joins and sends; ana sends.
	feed(c, [40, 102, 1000, [7, false, 3, false, null, [4], [[6, "cy", {}]], [], []], [], [],
		[[4, 0, 0, PackedByteArray([41])], [6, 0, 0, PackedByteArray([61])], [3, 0, 0, PackedByteArray([31])]]])
	peer.poll()
	h.check(events.is_empty(), "the change waits while bo's packet does: %s" % str(events))
	var rows := take_all(peer)
	h.check(str(rows) == str([[5, 41], [1, 31]]), "bo's last packet under its id, then ana's: %s" % str(rows))
	peer.poll()
	h.check(events == ["-5", "+7"], "then bo goes and cy comes: %s" % str(events))
	rows = take_all(peer)
	h.check(str(rows) == str([[7, 61]]), "cy's packet once cy is announced: %s" % str(rows))
	# ana (the master) sends and leaves: her packet comes from peer 1, then
	# the migration to cy (present longest now that bo is gone).
	events.clear()
	feed(c, [40, 103, 1000, [7, false, 6, false, null, [3], [], [], []], [], [], [[3, 0, 0, PackedByteArray([32])]]])
	peer.poll()
	rows = take_all(peer)
	h.check(events.is_empty() and str(rows) == str([[1, 32]]), "the old master's last packet as peer 1 (%s), before the migration (%s)" % [str(rows), str(events)])
	peer.poll()
	h.check(events == ["-1", "-7", "+1", "migrated 3->6"], "then the migration: %s" % str(events))
	# A change with no packet waiting is announced at once.
	events.clear()
	feed(c, [40, 104, 1000, [7, false, 6, false, null, [], [[8, "di", {}]], [], []], [], []])
	peer.poll()
	h.check(events == ["+9"], "a join alone at once: %s" % str(events))
