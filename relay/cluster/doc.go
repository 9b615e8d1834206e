// Package cluster lets several relays share one lobby over NATS, so that
// a game that outgrows one relay runs a few and its players still find
// each other by code, by listing and by quick match across all of them.
//
// A room lives on one node and never moves; frames never cross nodes.
// What the nodes share, and how:
//
//   - The directory: a JetStream key-value bucket (in memory, with a TTL)
//     holding each live node's record (its public addresses and load) and
//     its rooms (id, code, mode, properties, players, limits). Each node
//     writes its own records, changes at most four times a second and
//     everything again every TTL/3; every node watches the bucket into a
//     cache the relay's tick reads without I/O (Rooms, RoomByCode,
//     RoomByID, Nodes, LeastLoaded). A node that stops refreshing (dead,
//     or cut off from NATS) leaves the others' directory within TTL.
//   - Seats: a player joining a room on another node gets a seat from
//     that room's node (RequestSeat, NATS request/reply, answered by the
//     owner's tick through SeatRequests) as a short-lived token signed
//     with the cluster's Secret, then reconnects there with it
//     (VerifySeat, once per token).
//   - Direct messages to a player of another node, and lobby channel
//     lines to the nodes whose players are in the channel (NATS subjects).
//   - Bans: a bucket on disk every node watches.
//   - The matchmaker: one node, holding the one key of a bucket of its
//     own (with the directory's TTL), runs it; the others send it their
//     tickets and backfill requests, it sends matches to the nodes that
//     host them, and results go to the players' nodes.
//
// Everything that arrives for the relay comes on one bounded channel,
// Inbox; seat requests on another, SeatRequests. Nothing the tick calls
// blocks: sends are queued for the node's sender goroutine and fail at
// once when NATS is unreachable (and a cut-off node keeps serving its own
// rooms: Status says how it is, for /healthz). NATS is either an external
// cluster (Config.URLs) or a server embedded in each relay, routed to the
// others (Config.Embedded): three relay processes then form a cluster with
// no other process.
//
// A relay without a cluster does not use this package at all.
//
// docs/cluster.md describes the design, deployment and failure modes,
// with measured figures.
package cluster
