package match

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxConfigBytes bounds a configuration file.
const maxConfigBytes = 1 << 20

// The file form of Config and QueueConfig: JSON with snake_case keys and
// durations as Go duration strings ("90s", "1m30s"). Unknown keys are
// errors, so that a misspelt setting does not silently keep its default.
//
//	{
//	  "strict": true,
//	  "step_budget": 50000,
//	  "queues": {
//	    "duel":  {"skill_window": 50, "skill_widening": 5, "max_skill_window": 400, "max_wait": "90s"},
//	    "squad": {"teams": 2, "team_size": 4, "min_players": 6, "fill_wait": "30s", "interval": "1s"}
//	  },
//	  "default": {"max_players": 8, "min_players": 2, "fill_wait": "10s"}
//	}
type fileConfig struct {
	Queues       map[string]json.RawMessage `json:"queues"` // fileQueue each, decoded one by one to name it in errors
	Default      json.RawMessage            `json:"default"`
	Strict       bool                       `json:"strict"`
	MaxTickets   int                        `json:"max_tickets"`
	MaxBackfills int                        `json:"max_backfills"`
	StepBudget   int                        `json:"step_budget"`
}

type fileQueue struct {
	MaxPlayers     int      `json:"max_players"`
	MinPlayers     int      `json:"min_players"`
	FillWait       duration `json:"fill_wait"`
	Teams          int      `json:"teams"`
	TeamSize       int      `json:"team_size"`
	SkillWindow    float64  `json:"skill_window"`
	SkillWidening  float64  `json:"skill_widening"`
	MaxSkillWindow float64  `json:"max_skill_window"`
	MaxWait        duration `json:"max_wait"`
	Interval       duration `json:"interval"`
}

// duration reads a JSON string such as "1m30s".
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. \"30s\", \"1m30s\")", s)
	}
	*d = duration(v)
	return nil
}

func (q fileQueue) config() QueueConfig {
	return QueueConfig{
		MaxPlayers: q.MaxPlayers, MinPlayers: q.MinPlayers, FillWait: time.Duration(q.FillWait),
		Teams: q.Teams, TeamSize: q.TeamSize,
		SkillWindow: q.SkillWindow, SkillWidening: q.SkillWidening, MaxSkillWindow: q.MaxSkillWindow,
		MaxWait: time.Duration(q.MaxWait), Interval: time.Duration(q.Interval),
	}
}

// ParseConfig reads a Config from JSON (see the example above fileConfig
// in configfile.go, or the package tests) and checks it as New would.
// Errors name the queue and setting at fault.
func ParseConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return Config{}, err
	}
	if len(data) > maxConfigBytes {
		return Config{}, fmt.Errorf("matchmaker config: larger than %d bytes", maxConfigBytes)
	}
	var fc fileConfig
	if err := decodeStrict(data, &fc); err != nil {
		return Config{}, fmt.Errorf("matchmaker config: %w", err)
	}
	cfg := Config{Strict: fc.Strict, MaxTickets: fc.MaxTickets, MaxBackfills: fc.MaxBackfills, StepBudget: fc.StepBudget}
	if fc.Queues != nil {
		cfg.Queues = make(map[string]QueueConfig, len(fc.Queues))
		for mode, raw := range fc.Queues {
			var q fileQueue
			if err := decodeStrict(raw, &q); err != nil {
				return Config{}, fmt.Errorf("matchmaker config: queue %q: %w", mode, err)
			}
			cfg.Queues[mode] = q.config()
		}
	}
	if fc.Default != nil && string(fc.Default) != "null" {
		var q fileQueue
		if err := decodeStrict(fc.Default, &q); err != nil {
			return Config{}, fmt.Errorf("matchmaker config: default queue: %w", err)
		}
		d := q.config()
		cfg.Default = &d
	}
	if _, err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("matchmaker config: %w", err)
	}
	return cfg, nil
}

// LoadConfig reads a Config from the JSON file at path.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// decodeStrict decodes one JSON value from data into v, refusing unknown
// keys and trailing values.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err, data)
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// describeJSONError adds where in the input a JSON error is.
func describeJSONError(err error, data []byte) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset-1) // Offset is just past the bad byte
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	}
	return err
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for _, c := range data[:min(int(offset), len(data))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
