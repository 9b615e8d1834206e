// Package tick runs the relay's fixed-rate server loop.
//
// A relay is only fair if every client sees the same tick numbers at the
// same wall-clock moments, so tick n is defined as a point in time,
// Start + n*Period, rather than as "the n-th time the loop came round".
// Consequences of that choice run through the package:
//
//   - Lateness never accumulates: each sleep targets an absolute due time.
//   - After an overrun the loop does not replay the ticks it missed in a
//     burst (that would flood clients with frames); it runs only the most
//     recent due tick, and the missed numbers are simply never used.
//   - Timing is injected through Clock, so all of the above is tested with
//     FakeClock instead of real sleeps.
//
// Scheduler holds the pure timing rules, Loop drives them with a Clock and
// records Stats, and Window is the reusable rolling-percentile recorder
// behind those stats.
package tick
