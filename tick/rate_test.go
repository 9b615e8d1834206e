package tick_test

import (
	"errors"
	"testing"

	"github.com/tickrelay/tickrelay/tick"
)

func TestValidRate(t *testing.T) {
	for _, c := range []struct {
		rate int
		want int // resolved rate; 0 means an error is expected
	}{
		{0, tick.DefaultRate},
		{1, 1},
		{30, 30},
		{tick.MaxRate, tick.MaxRate},
		{tick.MaxRate + 1, 0},
		{-1, 0},
	} {
		err := tick.ValidRate(c.rate)
		got, rerr := tick.ResolveRate(c.rate)
		if c.want == 0 {
			if !errors.Is(err, tick.ErrInvalidRate) || !errors.Is(rerr, tick.ErrInvalidRate) {
				t.Errorf("rate %d: errors %v, %v; want ErrInvalidRate", c.rate, err, rerr)
			}
			continue
		}
		if err != nil || rerr != nil || got != c.want {
			t.Errorf("rate %d: ValidRate %v, ResolveRate = %d, %v; want %d", c.rate, err, got, rerr, c.want)
		}
	}
	if tick.DefaultRate != 30 || tick.MaxRate != 128 {
		t.Errorf("DefaultRate, MaxRate = %d, %d; want 30, 128", tick.DefaultRate, tick.MaxRate)
	}
}
