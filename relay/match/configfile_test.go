package match

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const exampleConfig = `{
  "strict": true,
  "max_tickets": 50000,
  "step_budget": 20000,
  "queues": {
    "duel":  {"skill_window": 50, "skill_widening": 5, "max_skill_window": 400, "max_wait": "90s"},
    "squad": {"teams": 2, "team_size": 4, "min_players": 6, "fill_wait": "30s", "interval": "1s"}
  },
  "default": {"max_players": 8, "min_players": 2, "fill_wait": "10s"}
}`

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Strict:     true,
		MaxTickets: 50000,
		StepBudget: 20000,
		Queues: map[string]QueueConfig{
			"duel":  {SkillWindow: 50, SkillWidening: 5, MaxSkillWindow: 400, MaxWait: 90 * time.Second},
			"squad": {Teams: 2, TeamSize: 4, MinPlayers: 6, FillWait: 30 * time.Second, Interval: time.Second},
		},
	}
	if cfg.Strict != want.Strict || cfg.MaxTickets != want.MaxTickets || cfg.StepBudget != want.StepBudget || len(cfg.Queues) != 2 ||
		cfg.Queues["duel"] != want.Queues["duel"] || cfg.Queues["squad"] != want.Queues["squad"] {
		t.Fatalf("got %+v", cfg)
	}
	if cfg.Default == nil || *cfg.Default != (QueueConfig{MaxPlayers: 8, MinPlayers: 2, FillWait: 10 * time.Second}) {
		t.Fatalf("default %+v", cfg.Default)
	}
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}

	// A file.
	path := filepath.Join(t.TempDir(), "matchmaker.json")
	if err := os.WriteFile(path, []byte(exampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing file loaded")
	}
	// An empty object is the zero Config.
	if cfg, err := ParseConfig(strings.NewReader("{}")); err != nil || cfg.Queues != nil || cfg.Default != nil {
		t.Fatalf("{}: %+v, %v", cfg, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"queues": {"duel": {"max_player": 2}}}`, `queue "duel": json: unknown field "max_player"`},
		{`{"strict": true, "queue": {}}`, `json: unknown field "queue"`},
		{`{"queues": {"duel": {"max_wait": "soon"}}}`, `"soon" is not a duration`},
		{`{"queues": {"duel": {"max_wait": 90}}}`, `want a duration string such as "30s", got 90`},
		{`{"queues": {"duel": {"max_players": "two"}}}`, `queue "duel": max_players: want int, got JSON string`},
		{`{"queues": {"duel": {"min_players": 3}}}`, `queue "duel": min players (3) is more than max players (2)`},
		{`{"default": {"teams": 2}}`, `default queue: 2 teams need a team size or max players`},
		{"{\n  \"strict\": true,\n  \"queues\": {,}\n}", `line 3, column 14`},
		{`{} {}`, `more than one JSON value`},
		{``, `EOF`},
		{`{"max_tickets": -5}`, `max tickets must be at least 0`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "matchmaker config: ") {
				t.Fatalf("error %q does not say what it is about", err)
			}
		})
	}
	big := strings.NewReader(`{"queues": {` + strings.Repeat(" ", maxConfigBytes) + `}}`)
	if _, err := ParseConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized: %v", err)
	}
}

// FuzzParseConfig: any input gives a Config that New accepts, or an
// error; never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add(exampleConfig)
	f.Add(`{"queues": {"x": {"teams": 3, "max_players": 9, "skill_window": 1e308, "skill_widening": 1e308}}}`)
	f.Add(`{"default": {"max_wait": "-1s"}}`)
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := ParseConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		if _, err := New(cfg); err != nil {
			t.Fatalf("ParseConfig accepted what New refuses: %v", err)
		}
	})
}
