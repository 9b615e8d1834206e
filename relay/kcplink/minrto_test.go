package kcplink

import "testing"

func TestDefaultMinRTOCoversATick(t *testing.T) {
	for _, c := range []struct{ rate, want int }{
		{0, 63}, {30, 63}, {20, 80}, {60, 46}, {128, 37}, {1, 1030},
	} {
		if got := DefaultMinRTO(c.rate); got != c.want {
			t.Errorf("tick rate %d: min RTO %d ms, want %d", c.rate, got, c.want)
		}
	}
	if tr := New(nil, Config{TickRate: 20, MinRTO: 70}, nil, nil); tr.minRTO != 70 {
		t.Errorf("MinRTO 70: transport uses %d", tr.minRTO)
	}
}
