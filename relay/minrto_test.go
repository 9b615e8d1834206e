package relay

import "testing"

func TestDefaultMinRTOCoversATick(t *testing.T) {
	for _, c := range []struct{ rate, want int }{
		{0, 63}, {30, 63}, {20, 80}, {60, 46}, {128, 37}, {1, 1030},
	} {
		if got := defaultMinRTO(c.rate); got != c.want {
			t.Errorf("tick rate %d: min RTO %d ms, want %d", c.rate, got, c.want)
		}
	}
	srv := &Server{TickRate: 20, KCP: KCPConfig{MinRTO: 70}}
	if tr := newTransport(srv, nil, newAdmission(filterConfig{})); tr.minRTO != 70 {
		t.Errorf("MinRTO 70: transport uses %d", tr.minRTO)
	}
}
