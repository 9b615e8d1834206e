# Godot's high-level multiplayer (SceneMultiplayer: @rpc,
# MultiplayerSpawner, MultiplayerSynchronizer) over a tickrelay room. Godot 4
# only (MultiplayerPeerExtension, typed GDScript): nothing in the shared core
# preloads it, so Godot 3 never parses it.
#
#     Relay.join_or_create("arena")                     # or a match, a code
#     await Relay.room_joined
#     var peer = preload("res://addons/tickrelay/tickrelay_multiplayer_peer.gd").new(Relay.client)
#     peer.host_migrated.connect(_on_host_migrated)
#     multiplayer.multiplayer_peer = peer
#
# Every member of the room is a peer, in a mesh (packets go through the relay
# to the member they are for; SceneMultiplayer's server relay is off). The
# room's master is peer 1, the authority (nodes' default multiplayer
# authority); every other member is peer (relay player id + 1), never 1.
# Packets travel as peer_packet messages (PROTOCOL.md 4.20) in the relay's
# frames, so an @rpc arrives at the next tick, not at once.
#
# Transfer modes: RELIABLE -> relay mode 0 (ordered, exactly once, replayed
# on a resume) and UNRELIABLE_ORDERED -> 2 on the relay channel of Godot's
# transfer_channel (0-127). The relay delivers, per tick, the latest
# unreliable packet of each sender and channel: right for an ordered
# stream (an older one is stale; this side also drops one older than the
# last taken), wrong for UNRELIABLE, whose packets are independent (an
# unreliable @rpc and a MultiplayerSynchronizer's sync on channel 0 would
# replace each other, and so would two unreliable calls in one tick; seen
# in the engine: most of them lost). So UNRELIABLE -> relay mode 1 on
# relay channels 128-255 taken in turn, one per packet, with Godot's
# channel as the data's first byte: up to 128 packets per sender and tick
# pass, and only past that does the oldest give way.
#
# Host migration: when the master leaves (or its connection is lost and not
# resumed within the relay's grace), the relay makes the member present
# longest the master. This peer then emits peer_disconnected for the old
# peer 1 and for the new master's old id, peer_connected(1) for the new
# master (on the new master itself: its own id becomes 1, and every other
# peer is announced again: disconnected, then connected, which resets
# SceneMultiplayer's path cache for them), then host_migrated(old_master,
# new_master) with the relay player ids. What
# SceneMultiplayer keeps across it is in godot/README.md ("Host migration").
#
# A member's last packets (sent just before it left, or by the old master
# before a migration) reach SceneMultiplayer before the change that removes
# or renames their sender, one poll earlier.
#
# While the client resumes a lost connection, the peer stays CONNECTED (a
# status change makes SceneMultiplayer forget its state); packets sent
# meanwhile wait for the resume.
extends MultiplayerPeerExtension

const Protocol = preload("protocol.gd")
const Client = preload("client.gd")

# Relay channels from this one up carry UNRELIABLE packets (see above).
const UNRELIABLE_CHANNELS = 128

# The room's master changed: old_master and new_master are relay player
# ids; the new master is peer 1 from now on.
signal host_migrated(old_master: int, new_master: int)

# The client this peer runs on (client.gd; Relay.client with the autoload).
var client
# True: _poll() polls the client too (a client without the Relay node).
# False (the default with the Relay node, which polls its client itself).
var poll_client := false
# True (the default): when this player becomes the master, every
# MultiplayerSynchronizer in the tree re-checks its visibility, so that the
# ones with the default authority (1) sync to the peers that stayed.
var refresh_synchronizers := true
# Packets received and not yet taken: [from (relay id), mode, channel, data].
var _in: Array = []
var _in_head := 0
var _target := 0
var _mode := TRANSFER_MODE_RELIABLE
var _channel := 0
var _rotation := 0  # the next relay channel (128 + _rotation) for UNRELIABLE
var _refusing := false
var _closed := false
# Godot peer id -> relay player id of the peers announced to
# SceneMultiplayer, and the master they were announced under.
var _peers := {}
var _announced_master := 0
var _self_id := 0  # this player's peer id when the peers were announced
var _dirty := true  # the room changed: _sync_peers() at the next _poll()
var _links: Array = []  # [signal of the client, callable]: undone by _close()
# UNRELIABLE_ORDERED: the tick of the last packet taken, per sender and
# channel (from * 256 + channel).
var _ordered := {}
# Packets held back while a room change waits for SceneMultiplayer to take
# the packets sent under the old ids (see _poll()).
var _later: Array = []
var _deferred := false


func _init(relay_client, options := {}) -> void:
	client = relay_client
	poll_client = bool(options.get("poll_client", false))
	refresh_synchronizers = bool(options.get("refresh_synchronizers", true))
	_links = [
		[client.peer_packet_received, _on_packet],
		[client.player_joined, _on_room_change.unbind(3)],
		[client.player_left, _on_room_change.unbind(1)],
		[client.master_changed, _on_room_change.unbind(1)],
		[client.room_joined, _on_room_change.unbind(2)],
		[client.room_left, _on_room_change.unbind(1)],
	]
	for l in _links:
		l[0].connect(l[1])


# Godot's peer id of relay player id, as of the room's master now.
func peer_id_of(player: int) -> int:
	if player == 0:
		return 0
	if player == client.master_id:
		return 1
	return player + 1


# The relay player id of Godot peer id (0 if none).
func player_of(peer: int) -> int:
	if peer == 1:
		return client.master_id
	return peer - 1 if peer > 1 else 0


func _on_room_change() -> void:
	_dirty = true


func _on_packet(from: int, mode: int, channel: int, data: PackedByteArray) -> void:
	if mode == Protocol.PEER_UNRELIABLE_ORDERED:
		var key: int = from * 256 + channel
		var tick: int = client.server_tick
		if tick < _ordered.get(key, 0):
			return
		_ordered[key] = tick
	if channel >= UNRELIABLE_CHANNELS:
		# UNRELIABLE: the first byte is Godot's channel (see _put_packet_script).
		if data.is_empty():
			return
		_in.append([from, mode, data[0], data.slice(1)])
		return
	_in.append([from, mode, channel, data])


# ---------------------------------------------------------------- MultiplayerPeer

func _poll() -> void:
	if poll_client:
		client.poll()
	if not _dirty:
		return
	# A frame can carry a member's last packets (an @rpc just before it
	# left, the old master's before a migration) together with the change
	# that removes or renames it. Those go to SceneMultiplayer first, under
	# the ids they were sent under; the change is announced at the next
	# _poll(), at most one later.
	if not _deferred and _sends_from_changing_peers():
		_deferred = true
		var now: Array = []
		for i in range(_in_head, _in.size()):
			(now if _peers.has(_announced_peer(_in[i][0])) else _later).append(_in[i])
		_in = now
		_in_head = 0
		return
	_deferred = false
	_sync_peers()
	if not _later.is_empty():
		_later.append_array(_in.slice(_in_head))
		_in = _later
		_in_head = 0
		_later = []
	_drop_strangers()


func _get_connection_status() -> ConnectionStatus:
	if _closed:
		return CONNECTION_DISCONNECTED
	var st: int = client.status
	if st == Client.STATUS_DISCONNECTED:
		return CONNECTION_DISCONNECTED
	if client.room_id == 0 or client.master_id == 0 or st == Client.STATUS_CONNECTING:
		# Before the room's first frame; after leaving it: gone.
		return CONNECTION_DISCONNECTED if _announced_master != 0 else CONNECTION_CONNECTING
	return CONNECTION_CONNECTED  # also while resuming


func _get_unique_id() -> int:
	return peer_id_of(client.player_id) if client.master_id != 0 else client.player_id + 1


func _is_server() -> bool:
	return client.master_id != 0 and client.master_id == client.player_id


func _is_server_relay_supported() -> bool:
	return false  # a mesh: the relay delivers to each member


func _get_available_packet_count() -> int:
	return _in.size() - _in_head


func _get_packet_peer() -> int:
	return _announced_peer(_in[_in_head][0]) if _in_head < _in.size() else 0


func _get_packet_mode() -> TransferMode:
	if _in_head >= _in.size():
		return TRANSFER_MODE_RELIABLE
	return _from_relay_mode(_in[_in_head][1])


func _get_packet_channel() -> int:
	return _in[_in_head][2] if _in_head < _in.size() else 0


func _get_packet_script() -> PackedByteArray:
	if _in_head >= _in.size():
		return PackedByteArray()
	var p: Array = _in[_in_head]
	_in_head += 1
	if _in_head == _in.size():
		_in.clear()
		_in_head = 0
	return p[3]


func _put_packet_script(buffer: PackedByteArray) -> Error:
	if buffer.size() > _get_max_packet_size():
		return ERR_INVALID_PARAMETER
	var to := 0
	if _target > 0:
		to = player_of(_target)
		if to == 0:
			return ERR_INVALID_PARAMETER
	elif _target < 0:
		to = -player_of(-_target)
	var channel := _channel
	if _mode == TRANSFER_MODE_UNRELIABLE:
		channel = UNRELIABLE_CHANNELS + _rotation
		_rotation = (_rotation + 1) % (256 - UNRELIABLE_CHANNELS)
		var framed := PackedByteArray([_channel])
		framed.append_array(buffer)
		buffer = framed
	if not client.send_peer_packet(to, _to_relay_mode(_mode), channel, buffer):
		return ERR_CONNECTION_ERROR
	return OK


func _get_max_packet_size() -> int:
	return 4095  # the relay's limit for a peer packet's data, less the channel byte


func _set_target_peer(peer: int) -> void:
	_target = peer


func _set_transfer_mode(mode: TransferMode) -> void:
	_mode = mode


func _get_transfer_mode() -> TransferMode:
	return _mode


func _set_transfer_channel(channel: int) -> void:
	_channel = clampi(channel, 0, UNRELIABLE_CHANNELS - 1)


func _get_transfer_channel() -> int:
	return _channel


func _set_refuse_new_connections(enable: bool) -> void:
	_refusing = enable
	if _is_server():
		client.set_locked(enable)  # a locked room refuses joins


func _is_refusing_new_connections() -> bool:
	return _refusing


# The authority (peer 1) may remove a peer: the relay kicks the player.
func _disconnect_peer(peer: int, _force: bool) -> void:
	var player := player_of(peer)
	if _is_server() and player != 0 and player != client.player_id:
		client.kick(player)


# Stops this peer (the client stays connected: leave the room or disconnect
# it separately): it lets go of the client's signals and takes no more
# packets. Call close() before dropping a peer whose client lives on.
func _close() -> void:
	_closed = true
	for l in _links:
		if l[0].is_connected(l[1]):
			l[0].disconnect(l[1])
	_links.clear()
	_in.clear()
	_in_head = 0
	_later.clear()


# ---------------------------------------------------------------- peers

# Announces to SceneMultiplayer the peers the room view has now: every
# member but this player, under ids that follow the current master. A new
# master renames two peers (the old 1 goes, the new master's old id goes, 1
# comes back as the new master); disconnections go first.
func _sync_peers() -> void:
	_dirty = false
	if _get_connection_status() != CONNECTION_CONNECTED:
		return
	var old_master := _announced_master
	var want := _wanted_peers()
	var gone := _gone_peers(want)
	_self_id = _get_unique_id()
	for peer in gone:
		_peers.erase(peer)
		peer_disconnected.emit(peer)
	_announced_master = client.master_id
	for peer in want:
		if not _peers.has(peer):
			_peers[peer] = want[peer]
			peer_connected.emit(peer)
	if old_master != 0 and old_master != _announced_master:
		if _announced_master == client.player_id and refresh_synchronizers:
			_refresh_synchronizers()
		host_migrated.emit(old_master, _announced_master)


# Godot peer id -> relay player id of every member but this player, as the
# room view has them now.
func _wanted_peers() -> Dictionary:
	var want := {}
	for player in client.players:
		if player != client.player_id:
			want[peer_id_of(player)] = player
	return want


# The announced peers that the room as it is now removes or renames. When
# this player's own id changes (it became the master), every other peer's
# SceneMultiplayer forgets what it knew of the old id (its path cache),
# while this side's caches still hold what each of them had confirmed: they
# are announced again too, which resets them.
func _gone_peers(want: Dictionary) -> Array:
	var renamed := _self_id != 0 and _self_id != _get_unique_id()
	var gone := []
	for peer in _peers:
		if renamed or not want.has(peer) or want[peer] != _peers[peer]:
			gone.append(peer)
	return gone


# Whether a packet waiting for SceneMultiplayer came from a peer that the
# pending room change removes or renames.
func _sends_from_changing_peers() -> bool:
	if _in_head >= _in.size() or _get_connection_status() != CONNECTION_CONNECTED:
		return false
	var gone := _gone_peers(_wanted_peers())
	for i in range(_in_head, _in.size()):
		if gone.has(_announced_peer(_in[i][0])):
			return true
	return false


# Godot's peer id of relay player id as announced to SceneMultiplayer (the
# master it knows is 1), which lags peer_id_of() while a change waits.
func _announced_peer(player: int) -> int:
	return 1 if player == _announced_master else player + 1


# This player became the authority: SceneMultiplayer decides which peers a
# MultiplayerSynchronizer sends to when a peer connects, or when its
# visibility changes, and the peers that kept their ids did neither, so
# nothing would be synced to them. Every synchronizer in the tree re-checks
# its visibility (those this peer now has authority over start sending).
func _refresh_synchronizers() -> void:
	var tree := Engine.get_main_loop() as SceneTree
	if tree == null:
		return
	for sync in tree.root.find_children("*", "MultiplayerSynchronizer", true, false):
		sync.update_visibility(0)


# Packets from a member that left before SceneMultiplayer took them (it
# would refuse them with an error).
func _drop_strangers() -> void:
	var keep: Array = []
	for i in range(_in_head, _in.size()):
		if _peers.has(_announced_peer(_in[i][0])):
			keep.append(_in[i])
	_in = keep
	_in_head = 0


static func _to_relay_mode(mode: int) -> int:
	if mode == TRANSFER_MODE_UNRELIABLE:
		return Protocol.PEER_UNRELIABLE
	if mode == TRANSFER_MODE_UNRELIABLE_ORDERED:
		return Protocol.PEER_UNRELIABLE_ORDERED
	return Protocol.PEER_RELIABLE


static func _from_relay_mode(mode: int) -> TransferMode:
	if mode == Protocol.PEER_UNRELIABLE:
		return TRANSFER_MODE_UNRELIABLE
	if mode == Protocol.PEER_UNRELIABLE_ORDERED:
		return TRANSFER_MODE_UNRELIABLE_ORDERED
	return TRANSFER_MODE_RELIABLE
