// Package match is tickrelay's matchmaker: it forms matches from queued
// tickets (one player or a party each) and fills the open seats of running
// matches. It is a pure state machine: no I/O, no goroutines, no locks, no
// clock of its own. The caller (the relay's hub, on its tick goroutine)
// owns a Matchmaker, adds and cancels tickets, and calls Step with the
// tick's time.
//
// # Queues
//
// Each mode has a queue, configured by a QueueConfig (from Go, or from a
// JSON file with ParseConfig): players per match, teams, the skill window
// and how it widens, how long a ticket may wait, how often the queue runs,
// and whether a match may start short of players. Modes without a
// configuration use Config.Default (DefaultQueue if nil) unless
// Config.Strict refuses them.
//
// # Who matches whom
//
// Tickets share a match only if they have the same mode and the same
// properties, accept a common region, and every ticket's skill is within
// every other ticket's window. A ticket's window is ±(SkillWindow +
// SkillWidening × seconds waited), capped at MaxSkillWindow; a party's
// skill is its players' mean. A match holds MinPlayers to MaxPlayers
// players; with teams, a party stays on one team and team sizes differ by
// at most one.
//
// # How matches are formed
//
// Tickets are bucketed by mode and properties, and each bucket is kept
// sorted by age and by skill. The oldest ticket goes first, with its
// candidates: the tickets within its window that share a region with it
// and whose windows hold it. The match formed around it is the first valid
// group in age order, the one that takes the oldest candidate that can be
// part of a full match, then the next oldest that can, and so on: adding
// candidates oldest first while the group stays valid finds it in the
// common case, and a depth-first search in the same order (bounded, with
// pruning) finds it when an old candidate shuts out others or a party
// leaves too few seats. Failing a full match, the first group that may
// start short of players (at least MinPlayers, its oldest ticket having
// waited FillWait) starts. Otherwise the ticket waits, and the next oldest
// goes. So the oldest ticket always chooses first, a stream of newcomers
// cannot starve it, and no ticket left waiting could have taken the place
// of a newer one in a match that was formed. (Two bounds keep a run's
// cost in check and can, in contrived queues, cost a ticket its turn: the
// search stops after searchBudget steps, and when a window holds
// thousands of tickets only the oldest ageScanCap matches' worth of them
// are candidates.)
// Teams are then assigned for balanced skill (see teamer.assign in
// teams.go): parties first, then solo players strongest first onto the
// weakest team, then swaps that even the totals.
//
// Backfill requests of a bucket are served before its new matches, oldest
// request first, each taking the oldest tickets that suit it.
//
// # What the caller does with Results
//
// Step appends to a Results; every ticket and request in it has already
// left the matchmaker.
//
//   - Match: create a room of Match.Mode in Match.Region (pick one if it
//     is empty) with Match.Props, and move every player there on its
//     Team. If a player cannot come (it disconnected meanwhile), either
//     start without it and ask for a Backfill, or cancel the match and
//     Add the other tickets again with their original Enqueued time so
//     that they keep their place in line.
//   - Fill: move the players into the backfill's room on their Team. If
//     Fill.Open is 0 the request is closed; otherwise it stays open. A
//     room whose needs change (someone joined or left another way)
//     cancels its request and makes a new one.
//   - TimedOut: tell the ticket's players that no match was found.
//   - Expired: the backfill request has closed; the room may make another.
//
// A player who leaves the queue or disconnects must be cancelled (Cancel
// with its ticket's ID); a room that closes or fills by other means
// cancels its backfill (CancelBackfill).
//
// # Cost
//
// Add and Cancel are a few map operations (no allocation once warm). A
// run of a queue merges the newcomers into each bucket's orders (O(n) plus
// sorting the newcomers), then tries the waiting tickets oldest first:
// each try scans the tickets within the anchor's window. A ticket whose
// try failed is not tried again until something that could let it match
// has happened: enough tickets came to accept it as windows widened, a
// pair of its candidates came to accept each other, or a ticket arrived
// within its reach (recheck.go); this changes no result. A bucket whose
// ticket sizes cannot fill a team (parties of three for teams of four,
// with no partial matches) tries no ticket at all. Step does no
// allocation once its buffers have grown.
//
// A Step does at most about Config.StepBudget of work (run.go): a run
// that needs more, say over 10,000 waiting tickets, goes on where it
// stopped in the next Steps, so that a caller stepping on every tick
// spends a bounded part of each tick (about half a millisecond by
// default) whatever its queues hold, and a queue's run spreads over a few
// ticks. Spreading changes no match: the pieces of a run see what the
// run itself and the caller's calls change, as one run would.
// BenchmarkTick measures Steps as a 30 Hz tick makes them; BenchmarkStep,
// BenchmarkStepFormAll and BenchmarkAddCancel the work of whole runs.
package match
