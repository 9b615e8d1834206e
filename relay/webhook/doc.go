// Package webhook tells a game's backend what happens on the relay: rooms
// created and closed, players joining and leaving rooms, matches formed, or
// any other event type. A Dispatcher POSTs each event as JSON (an Envelope)
// to a configured URL.
//
// # Guarantees
//
//   - Enqueue never blocks: it puts the event in a bounded queue (MaxQueue
//     events, MaxQueueBytes bytes) and returns. A full queue drops the event
//     and counts it (Stats.Drops["queue_full"]).
//   - Events of one room are delivered in the order they were enqueued: an
//     event is not sent before the room's previous event was delivered or
//     given up. Different rooms are delivered concurrently (Workers).
//   - Network errors, timeouts and answers 408, 429 and 5xx are retried with
//     exponential backoff and jitter (honouring Retry-After), up to
//     MaxAttempts attempts and MaxAge; then the event is dropped as gave_up.
//     Other answers (4xx, redirects) drop it as rejected.
//   - Delivery is at least once: retries carry the same event id.
//   - Every event has a per-room sequence number (Envelope.Seq); a gap tells
//     the backend that events were dropped.
//
// # Verifying a request
//
// Every request carries a header such as (for the body {} sent at
// 2024-12-03 12:00:00 UTC with the secret "secret"; see ExampleSign)
//
//	X-Tickrelay-Signature: t=1733227200,v1=768178487d0e150c53b9d0e950b98d8bf68796a107555d67e7a0b5a05a87791a
//
// where t is the Unix time (seconds) of the attempt and v1 the lower-case
// hex HMAC-SHA256, keyed with the shared secret, of the string t + "." +
// the raw request body. A backend, in any language:
//
//  1. reads the raw body (before any JSON parsing: re-encoding changes bytes);
//  2. computes HMAC-SHA256(secret, t + "." + body) and compares it, in
//     constant time, with each v1 in the header (there may be several, and
//     keys other than t and v1 are to be ignored);
//  3. rejects the request if |now - t| exceeds its tolerance (5 minutes is
//     usual), so a captured request cannot be replayed later;
//  4. remembers the event ids it has processed for at least that long, and
//     ignores repeats (retries and replays within the tolerance).
//
// It answers 2xx once it has the event (processing can be asynchronous); 5xx
// or 429 to have it retried; any other 4xx to drop it.
//
// In Go, Verify and VerifyRequest do steps 2 and 3.
//
// Other headers: X-Tickrelay-Event (the type), X-Tickrelay-Delivery (the
// event id) and X-Tickrelay-Attempt (1 for the first attempt).
package webhook
