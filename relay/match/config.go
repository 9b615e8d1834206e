package match

import (
	"fmt"
	"math"
	"time"
)

// Limits on what one queue, ticket or backfill request may hold. They bound
// the matchmaker's memory and the work one Step does per match, whatever a
// caller passes on from its clients.
const (
	MaxMatchPlayers = 256  // largest MaxPlayers a queue may have
	MaxModeLen      = 64   // bytes in a mode name
	MaxRegions      = 64   // distinct region names among queued tickets and open backfills
	MaxRegionLen    = 64   // bytes in a region name
	MaxProps        = 16   // properties on one ticket or backfill request
	MaxPropLen      = 1024 // bytes in one property key or value
)

// Defaults for zero fields.
const (
	DefaultMaxWait      = 2 * time.Minute
	DefaultMaxTickets   = 100_000
	DefaultMaxBackfills = 10_000
	DefaultStepBudget   = 50_000 // work units: see Config.StepBudget
	freeForAllPlayers   = 2      // MaxPlayers of a free-for-all queue that names none
)

// QueueConfig is how the queue of one mode forms matches. A zero field
// means what its comment says, so QueueConfig{} is a valid queue: one
// against one, equal skill only, no partial matches.
type QueueConfig struct {
	// MaxPlayers is the most players in one match. Zero: Teams × TeamSize
	// with teams, else 2.
	MaxPlayers int
	// MinPlayers is the fewest players a match may start with. Zero:
	// MaxPlayers. A match short of MaxPlayers starts only once its oldest
	// ticket has waited FillWait.
	MinPlayers int
	// FillWait is how long the oldest ticket of a match with fewer than
	// MaxPlayers (and at least MinPlayers) must have waited before the
	// match starts. Zero: at once.
	FillWait time.Duration
	// Teams is the number of teams in a match. Zero: free-for-all.
	Teams int
	// TeamSize is the most players on one team. Zero: MaxPlayers / Teams.
	// A match's teams differ in size by at most one player.
	TeamSize int
	// SkillWindow is how far (±) from its own skill a ticket accepts other
	// tickets when it enters the queue. Zero: equal skill only.
	SkillWindow float64
	// SkillWidening is how much the window grows per second waited.
	// Zero: it does not grow.
	SkillWidening float64
	// MaxSkillWindow caps the window. Zero: no cap.
	MaxSkillWindow float64
	// MaxWait is how long a ticket waits before it ends with a timeout.
	// Zero: DefaultMaxWait.
	MaxWait time.Duration
	// Interval is how often the queue runs: Step does nothing for this mode
	// until Interval has passed since the queue last ran. Zero: every Step.
	Interval time.Duration
}

// DefaultQueue returns the queue used for modes that Config.Queues does not
// name when Config.Default is nil: free-for-all matches of 2 to 8 players,
// full at once or as many as there are once the oldest has waited 10 s, a
// skill window of ±100 growing by 20 per second, run once a second.
func DefaultQueue() QueueConfig {
	return QueueConfig{
		MaxPlayers:    8,
		MinPlayers:    2,
		FillWait:      10 * time.Second,
		SkillWindow:   100,
		SkillWidening: 20,
		MaxWait:       DefaultMaxWait,
		Interval:      time.Second,
	}
}

// Config configures a Matchmaker. The zero value matches every mode with
// DefaultQueue.
type Config struct {
	// Queues configures modes by name.
	Queues map[string]QueueConfig
	// Default is the queue of every mode not in Queues. Nil: DefaultQueue().
	Default *QueueConfig
	// Strict refuses tickets and backfills of modes not in Queues instead
	// of matching them with Default.
	Strict bool
	// MaxTickets bounds the tickets queued at once. Zero: DefaultMaxTickets.
	MaxTickets int
	// MaxBackfills bounds the open backfill requests. Zero:
	// DefaultMaxBackfills.
	MaxBackfills int
	// StepBudget bounds the work of one Step, so that a Step takes a
	// small and bounded part of the caller's tick however many tickets
	// wait: a queue's run that needs more work goes on where it stopped
	// in the next Steps. The unit is about one ticket looked at, a few
	// nanoseconds; DefaultStepBudget is about half a millisecond of a
	// server core. Zero: DefaultStepBudget. Negative: no bound (every
	// due queue runs to its end within the Step).
	StepBudget int
}

// queueRules is a QueueConfig with every default applied and checked.
type queueRules struct {
	QueueConfig
	maxWait    int64 // nanoseconds
	interval   int64
	fillWait   int64
	nsPerSkill float64 // how long a window takes to widen by 1; 0: never
}

// normalize applies the defaults of zero fields and checks the result.
func (c QueueConfig) normalize() (queueRules, error) {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"skill window", c.SkillWindow},
		{"skill widening", c.SkillWidening},
		{"max skill window", c.MaxSkillWindow},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return queueRules{}, fmt.Errorf("%s must be a finite number of at least 0, not %v", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"max players", c.MaxPlayers}, {"min players", c.MinPlayers},
		{"teams", c.Teams}, {"team size", c.TeamSize},
	} {
		if f.v < 0 {
			return queueRules{}, fmt.Errorf("%s must be at least 0, not %d", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"fill wait", c.FillWait}, {"max wait", c.MaxWait}, {"interval", c.Interval},
	} {
		if f.v < 0 {
			return queueRules{}, fmt.Errorf("%s must be at least 0, not %v", f.name, f.v)
		}
	}
	if c.Teams > MaxMatchPlayers {
		return queueRules{}, fmt.Errorf("teams (%d) is over the limit of %d", c.Teams, MaxMatchPlayers)
	}
	if c.TeamSize > MaxMatchPlayers {
		return queueRules{}, fmt.Errorf("team size (%d) is over the limit of %d", c.TeamSize, MaxMatchPlayers)
	}
	if c.Teams > 0 {
		switch {
		case c.TeamSize == 0 && c.MaxPlayers == 0:
			return queueRules{}, fmt.Errorf("%d teams need a team size or max players", c.Teams)
		case c.TeamSize == 0:
			if c.MaxPlayers%c.Teams != 0 {
				return queueRules{}, fmt.Errorf("max players (%d) is not a multiple of teams (%d)", c.MaxPlayers, c.Teams)
			}
			c.TeamSize = c.MaxPlayers / c.Teams
		case c.MaxPlayers == 0:
			c.MaxPlayers = c.Teams * c.TeamSize
		case c.MaxPlayers != c.Teams*c.TeamSize:
			return queueRules{}, fmt.Errorf("max players (%d) is not teams × team size (%d × %d)", c.MaxPlayers, c.Teams, c.TeamSize)
		}
	} else if c.TeamSize != 0 {
		return queueRules{}, fmt.Errorf("team size (%d) is set without teams", c.TeamSize)
	}
	if c.MaxPlayers == 0 {
		c.MaxPlayers = freeForAllPlayers
	}
	if c.MaxPlayers > MaxMatchPlayers {
		return queueRules{}, fmt.Errorf("max players (%d) is over the limit of %d", c.MaxPlayers, MaxMatchPlayers)
	}
	if c.MinPlayers == 0 {
		c.MinPlayers = c.MaxPlayers
	}
	if c.MinPlayers > c.MaxPlayers {
		return queueRules{}, fmt.Errorf("min players (%d) is more than max players (%d)", c.MinPlayers, c.MaxPlayers)
	}
	if c.Teams > 0 && c.MinPlayers < c.Teams {
		return queueRules{}, fmt.Errorf("min players (%d) is fewer than teams (%d): a match needs a player on every team", c.MinPlayers, c.Teams)
	}
	if c.MaxSkillWindow > 0 && c.MaxSkillWindow < c.SkillWindow {
		return queueRules{}, fmt.Errorf("max skill window (%v) is less than skill window (%v)", c.MaxSkillWindow, c.SkillWindow)
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	r := queueRules{
		QueueConfig: c,
		maxWait:     int64(c.MaxWait),
		interval:    int64(c.Interval),
		fillWait:    int64(c.FillWait),
	}
	if c.SkillWidening > 0 {
		r.nsPerSkill = float64(time.Second) / c.SkillWidening
	}
	return r, nil
}

// window is a ticket's skill window after waiting waited nanoseconds.
func (r *queueRules) window(waited int64) float64 {
	w := r.SkillWindow
	if r.SkillWidening > 0 && waited > 0 {
		w += r.SkillWidening * float64(waited) / float64(time.Second)
	}
	if r.MaxSkillWindow > 0 && w > r.MaxSkillWindow {
		w = r.MaxSkillWindow
	}
	return w
}

// teamCount is the number of teams, 1 in free-for-all (one team holding
// everybody, of MaxPlayers seats).
func (r *queueRules) teamCount() int { return max(r.Teams, 1) }

// teamCap is the most players on one team (MaxPlayers in free-for-all).
func (r *queueRules) teamCap() int {
	if r.Teams == 0 {
		return r.MaxPlayers
	}
	return r.TeamSize
}

// validated is a Config with every default applied and every queue checked.
type validated struct {
	queues       map[string]queueRules
	def          queueRules
	strict       bool
	maxTickets   int
	maxBackfills int
	stepBudget   int
}

// validate checks c and applies its defaults.
func (c *Config) validate() (validated, error) {
	v := validated{
		queues:       make(map[string]queueRules, len(c.Queues)),
		strict:       c.Strict,
		maxTickets:   c.MaxTickets,
		maxBackfills: c.MaxBackfills,
		stepBudget:   c.StepBudget,
	}
	for mode, qc := range c.Queues {
		if len(mode) > MaxModeLen {
			return validated{}, fmt.Errorf("queue %.20q…: mode is longer than %d bytes", mode, MaxModeLen)
		}
		r, err := qc.normalize()
		if err != nil {
			return validated{}, fmt.Errorf("queue %q: %w", mode, err)
		}
		v.queues[mode] = r
	}
	def := DefaultQueue()
	if c.Default != nil {
		def = *c.Default
	}
	var err error
	if v.def, err = def.normalize(); err != nil {
		return validated{}, fmt.Errorf("default queue: %w", err)
	}
	switch {
	case c.MaxTickets < 0:
		return validated{}, fmt.Errorf("max tickets must be at least 0, not %d", c.MaxTickets)
	case c.MaxTickets == 0:
		v.maxTickets = DefaultMaxTickets
	}
	switch {
	case c.MaxBackfills < 0:
		return validated{}, fmt.Errorf("max backfills must be at least 0, not %d", c.MaxBackfills)
	case c.MaxBackfills == 0:
		v.maxBackfills = DefaultMaxBackfills
	}
	switch {
	case c.StepBudget < 0:
		v.stepBudget = math.MaxInt
	case c.StepBudget == 0:
		v.stepBudget = DefaultStepBudget
	}
	return v, nil
}

// rules returns the queue of mode, or false if the mode is refused.
func (v *validated) rules(mode string) (queueRules, bool) {
	if r, ok := v.queues[mode]; ok {
		return r, true
	}
	return v.def, !v.strict
}
