// Package admin is the relay's operator API and live dashboard: an
// http.Handler (and a Server to run it) that answers JSON requests under
// /api/v1/ and serves a dashboard page at /.
//
// # Authentication
//
// Every /api/ request must carry "Authorization: Bearer <token>"; the token
// is compared in constant time. Without it, or with a wrong one, the answer
// is 401. Server refuses to start without a token. Use a long random token
// (32 bytes from a CSPRNG, say): nothing limits how often a wrong one may be
// tried. The API is plain HTTP:
// bind it to loopback (the default) and reach it through an SSH tunnel or a
// TLS-terminating proxy.
//
// # Routes
//
//	GET    /api/v1/overview                 Overview
//	GET    /api/v1/rooms?mode=&q=&limit=&offset=
//	                                        {"rooms": [RoomSummary], "limit", "offset"}
//	GET    /api/v1/rooms/{id}               RoomDetail
//	POST   /api/v1/rooms/{id}/close         {"reason"?}           -> {"ok": true}
//	GET    /api/v1/players?q=&room=&transport=&limit=&offset=
//	                                        {"players": [PlayerSummary], "limit", "offset"}
//	POST   /api/v1/players/{id}/kick        {"reason"?}           -> {"ok": true}
//	GET    /api/v1/bans                     {"bans": [Ban]}
//	POST   /api/v1/bans                     {"player_id" | "user_id" | "address",
//	                                         "until"? (RFC 3339) | "duration"? ("24h"),
//	                                         "reason"?}            -> 201 Ban
//	DELETE /api/v1/bans/{id}                                      -> {"ok": true}
//	POST   /api/v1/announce                 {"text"}              -> {"ok": true}
//	POST   /api/v1/drain                    {"deadline" (RFC 3339) | "after" ("10m")}
//	                                                              -> 202 {"draining": true, "deadline"}
//
// limit defaults to DefaultLimit and may be at most MaxLimit. Durations in
// responses are milliseconds (fields ending in _ms); times are RFC 3339.
//
// Errors are JSON, {"error": "..."}: 400 for bad input (unknown query
// parameters and body fields included), 401 without the right token, 404
// for an unknown room, player, ban or route, 405 for a wrong method (with
// Allow), 409 when the relay refuses because of its state (a second drain),
// 413 for a body over MaxBodyBytes, 503 when the relay did not answer
// within Handler.Timeout.
//
// # Audit log
//
// Every action (kick, close_room, ban, unban, announce, drain) that passes
// validation is logged to Handler.Log with the action, the caller's remote
// address, the time, the arguments, and the error if it failed.
//
// # Drain
//
// POST /api/v1/drain asks the relay for a maintenance drain. Once it has
// answered 202 the relay promises: no new sessions and no new rooms are
// accepted; rooms already running continue as before (players may still
// leave, rejoin them and play); at the deadline every client still
// connected is sent close with server_closing, as on a shutdown. Overview
// reports draining and the deadline meanwhile. A second drain is refused
// with 409. What the process does after the deadline (exit, or stay up
// empty) is up to its operator's tooling.
//
// # Dashboard
//
// The page at / asks for the token (kept in the tab's sessionStorage),
// polls the overview and the room list about once a second, and shows the
// headline numbers, a chart of tick work and lateness over the last five
// minutes, byte rates, closes and drops by reason, the rooms (searchable;
// close a room, open one to see and kick its members), bans, and the
// announce and drain forms. It is plain HTML, CSS and JavaScript embedded
// in the binary: nothing is loaded from elsewhere (its Content Security
// Policy forbids it).
package admin
