package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickrelay/tickrelay/internal/dflt"
)

// Drop reasons: the keys of Stats.Drops.
const (
	DropQueueFull = "queue_full" // the queue held MaxQueue events or MaxQueueBytes bytes
	DropTooLarge  = "too_large"  // one event larger than MaxQueueBytes
	DropGaveUp    = "gave_up"    // still failing after MaxAttempts attempts or MaxAge
	DropRejected  = "rejected"   // the backend answered 4xx (but 408 and 429) or a redirect
	DropClosed    = "closed"     // enqueued after Shutdown or Close began
	DropShutdown  = "shutdown"   // still queued when Shutdown's ctx ended or Close was called
	DropInvalid   = "invalid"    // a bad event type, or data that is not JSON-encodable
)

// Defaults for the Dispatcher's zero fields.
const (
	DefaultMaxQueue      = 10000
	DefaultMaxQueueBytes = 16 << 20
	DefaultMaxAttempts   = 8
	DefaultMaxAge        = 15 * time.Minute
	DefaultTimeout       = 10 * time.Second
	DefaultWorkers       = 4
)

// Errors Enqueue returns.
var (
	ErrClosed    = errors.New("webhook: dispatcher closed")
	ErrQueueFull = errors.New("webhook: queue full")
)

// Dispatcher POSTs events to a backend: signed, retried, in order per room,
// without ever blocking the caller. Set its fields before the first call
// and do not change them after; the zero value of each means its default.
//
// Delivery is at least once: an attempt whose answer was lost (a timeout)
// is retried with the same event id.
//
// Its workers start with Start or the first Enqueue; Shutdown or Close ends
// them.
type Dispatcher struct {
	// URL receives the events (http or https). Required.
	URL string
	// Secret signs every request (see Sign). Required.
	Secret string
	// MaxQueue and MaxQueueBytes bound the events held (waiting, in
	// backoff, in flight) and their bodies' bytes; an event that does not
	// fit is dropped with DropQueueFull.
	MaxQueue      int
	MaxQueueBytes int
	// MaxAttempts and MaxAge bound the retries of one event: it is given up
	// (DropGaveUp) after MaxAttempts attempts, or when its next attempt
	// would start later than MaxAge after it was enqueued.
	MaxAttempts int
	MaxAge      time.Duration
	// Timeout bounds one attempt, from connecting to reading the answer.
	Timeout time.Duration
	// Workers is how many requests may be in flight at once, each for a
	// different room.
	Workers int
	// Client sends the requests. The default follows no redirects (a
	// webhook URL that redirects is a misconfiguration; the answer counts
	// as a rejection).
	Client *http.Client
	// Backoff is the delay before retry number attempt (1 for the second
	// attempt); the default doubles from 0.5 s up to a minute, with jitter.
	// A 429 or 503 answer's Retry-After lengthens it.
	Backoff func(attempt int) time.Duration
	// Now is the clock for event times, signatures and ages; nil means
	// time.Now.
	Now func() time.Time
	// Log receives rejections and give-ups (sampled). Zero: none.
	Log zerolog.Logger

	startOnce sync.Once
	startErr  error
	ctx       context.Context // ends attempts in flight on Close
	cancel    context.CancelFunc
	client    *http.Client
	warn      zerolog.Logger
	wg        sync.WaitGroup

	mu      sync.Mutex
	q       *queue
	changed chan struct{} // closed when the queue changes while a worker idles
	idle    int           // workers waiting on changed
	closing bool
	stats   Stats
}

// Stats are the dispatcher's counters since it started.
type Stats struct {
	Enqueued    uint64            `json:"enqueued"`  // accepted into the queue
	Delivered   uint64            `json:"delivered"` // answered 2xx
	Attempts    uint64            `json:"attempts"`  // requests made
	Retries     uint64            `json:"retries"`   // attempts after an event's first
	Queued      int               `json:"queued"`    // held now: waiting, in backoff or in flight
	QueuedBytes int               `json:"queued_bytes"`
	InFlight    int               `json:"in_flight"`
	Drops       map[string]uint64 `json:"drops"` // events dropped, by reason (Drop*)
}

// Start checks the configuration and starts the workers. Enqueue calls it;
// call it first to learn of a bad configuration at start-up.
func (d *Dispatcher) Start() error {
	d.startOnce.Do(func() { d.startErr = d.start() })
	return d.startErr
}

func (d *Dispatcher) start() error {
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: URL %q is not an http or https URL", d.URL)
	}
	if d.Secret == "" {
		return errors.New("webhook: no Secret: a backend could not tell the relay's events from anyone's")
	}
	d.mu.Lock() // Stats may run meanwhile
	d.q = newQueue(dflt.Or(d.MaxQueue, DefaultMaxQueue), dflt.Or(d.MaxQueueBytes, DefaultMaxQueueBytes))
	d.changed = make(chan struct{})
	d.mu.Unlock()
	d.client = d.Client
	if d.client == nil {
		d.client = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	// A dead backend fails every event: a few lines a minute say so.
	d.warn = d.Log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Minute})
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for range dflt.Or(d.Workers, DefaultWorkers) {
		d.wg.Add(1)
		go d.worker()
	}
	return nil
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Enqueue queues an event of the given type for room (0: none), with data
// encoded as JSON, and returns at once. It fails, counting the drop, when
// the queue is full, the dispatcher is closed or misconfigured, or the
// event is invalid.
func (d *Dispatcher) Enqueue(typ string, room uint32, data any) error {
	if err := d.Start(); err != nil {
		if errors.Is(err, ErrClosed) {
			d.mu.Lock()
			d.dropLocked(DropClosed, nil, nil)
			d.mu.Unlock()
		}
		return err
	}
	raw, err := json.Marshal(data)
	if !validType(typ) {
		err = fmt.Errorf("webhook: bad event type %q", typ)
	}
	if err != nil {
		d.mu.Lock()
		d.dropLocked(DropInvalid, nil, nil)
		d.mu.Unlock()
		return fmt.Errorf("webhook: event %s: %w", typ, err)
	}
	id := rand.Text()
	now := d.now()

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		d.dropLocked(DropClosed, nil, nil)
		return ErrClosed
	}
	seq := d.q.nextSeq(room)
	if typ == RoomClosed {
		d.q.forget(room)
	}
	p := &pending{room: room, id: id, typ: typ, seq: seq, enqueued: now}
	p.body = appendEnvelope(make([]byte, 0, 128+len(raw)), id, typ, room, seq, now, raw)
	if reason := d.q.push(p); reason != "" {
		d.dropLocked(reason, p, nil)
		return fmt.Errorf("%w (%s): %s event of room %d dropped", ErrQueueFull, reason, typ, room)
	}
	d.stats.Enqueued++
	d.notifyLocked()
	return nil
}

// notifyLocked wakes the idle workers; d.mu is held.
func (d *Dispatcher) notifyLocked() {
	if d.idle > 0 {
		close(d.changed)
		d.changed = make(chan struct{})
		d.idle = 0
	}
}

func (d *Dispatcher) dropLocked(reason string, p *pending, cause error) {
	if d.stats.Drops == nil {
		d.stats.Drops = map[string]uint64{}
	}
	d.stats.Drops[reason]++
	if p != nil && reason != DropShutdown {
		ev := d.warn.Warn().Str("drop", reason).Str("event", p.id).Str("type", p.typ).
			Uint32("room", p.room).Uint64("seq", p.seq).Int("attempts", p.attempts)
		if cause != nil {
			ev = ev.Str("error", cause.Error())
		}
		ev.Msg("webhook event dropped")
	}
}

// worker sends events until the dispatcher closes and its queue is empty,
// or Close (or Shutdown's deadline) ends it.
func (d *Dispatcher) worker() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		d.mu.Lock()
		if d.ctx.Err() != nil || (d.closing && d.q.events == 0) {
			d.mu.Unlock()
			return
		}
		p, wait := d.q.take(d.now())
		if p == nil {
			d.idle++
			changed := d.changed
			d.mu.Unlock()
			var due <-chan time.Time
			if wait >= 0 {
				timer.Reset(wait)
				due = timer.C
			}
			select {
			case <-changed:
			case <-due:
			case <-d.ctx.Done():
			}
			timer.Stop()
			continue
		}
		p.attempts++
		d.stats.Attempts++
		if p.attempts > 1 {
			d.stats.Retries++
		}
		d.stats.InFlight++
		d.mu.Unlock()

		res := d.attempt(p)
		d.settle(p, res)
	}
}

type outcome int

const (
	delivered outcome = iota
	retryable         // network error, timeout, 408, 429, 5xx
	rejected          // any other answer
	aborted           // cut by Close: neither success nor failure
)

type result struct {
	outcome    outcome
	retryAfter time.Duration
	err        error
}

// attempt makes one request for p.
func (d *Dispatcher) attempt(p *pending) result {
	ctx, cancel := context.WithTimeout(d.ctx, dflt.Or(d.Timeout, DefaultTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(p.body))
	if err != nil {
		return result{outcome: rejected, err: err}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "tickrelay-webhook/1")
	h.Set(SignatureHeader, Sign(d.Secret, d.now(), p.body))
	h.Set("X-Tickrelay-Event", p.typ)
	h.Set("X-Tickrelay-Delivery", p.id)
	h.Set("X-Tickrelay-Attempt", strconv.Itoa(p.attempts))
	resp, err := d.client.Do(req)
	if err != nil {
		if d.ctx.Err() != nil {
			return result{outcome: aborted, err: err}
		}
		return result{outcome: retryable, err: err}
	}
	// Read a little of the answer so the connection can be reused, not
	// whatever a broken backend streams.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return result{outcome: delivered}
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return result{outcome: retryable, retryAfter: retryAfter(resp.Header.Get("Retry-After"), d.now()),
			err: fmt.Errorf("backend answered %s", resp.Status)}
	default:
		return result{outcome: rejected, err: fmt.Errorf("backend answered %s", resp.Status)}
	}
}

// settle records how p's attempt ended and decides what comes next.
func (d *Dispatcher) settle(p *pending, r result) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.InFlight--
	switch r.outcome {
	case delivered:
		d.stats.Delivered++
		d.q.finish(p)
	case rejected:
		d.dropLocked(DropRejected, p, r.err)
		d.q.finish(p)
	case aborted:
		d.q.retry(p, now) // back in the queue, for Shutdown to count
	case retryable:
		delay := d.backoff(p.attempts)
		if r.retryAfter > delay {
			delay = r.retryAfter
		}
		if p.attempts >= dflt.Or(d.MaxAttempts, DefaultMaxAttempts) ||
			now.Add(delay).Sub(p.enqueued) > dflt.Or(d.MaxAge, DefaultMaxAge) {
			d.dropLocked(DropGaveUp, p, r.err)
			d.q.finish(p)
		} else {
			d.q.retry(p, now.Add(delay))
		}
	}
	d.notifyLocked()
}

func (d *Dispatcher) backoff(attempt int) time.Duration {
	if d.Backoff != nil {
		return max(0, d.Backoff(attempt))
	}
	return DefaultBackoff(attempt)
}

// Stats returns a snapshot of the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Drops = make(map[string]uint64, len(d.stats.Drops))
	for k, v := range d.stats.Drops {
		s.Drops[k] = v
	}
	if d.q != nil {
		s.Queued, s.QueuedBytes = d.q.events, d.q.bytes
	}
	return s
}

// Shutdown stops accepting events and delivers those queued (retries
// included) until none is left or ctx ends; then it cuts the attempts in
// flight, counts what is left as DropShutdown, and returns ctx's error.
// Every goroutine of the dispatcher has ended when it returns.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.startOnce.Do(func() { d.startErr = ErrClosed })
	if d.q == nil {
		return nil // never started
	}
	d.mu.Lock()
	d.closing = true
	d.notifyLocked()
	d.mu.Unlock()

	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }() // ends with the workers, which the cancel below ends
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		d.cancel()
		<-done
	}
	d.cancel()

	d.mu.Lock()
	for _, p := range d.q.drain() {
		d.dropLocked(DropShutdown, p, nil)
	}
	d.mu.Unlock()
	d.client.CloseIdleConnections()
	return err
}

// Close stops at once: attempts in flight are cut and every queued event
// is counted as DropShutdown.
func (d *Dispatcher) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
