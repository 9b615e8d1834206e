package dflt

import (
	"testing"
	"time"
)

func TestOr(t *testing.T) {
	if Or(0, 5) != 5 || Or(-1, 5) != 5 || Or(3, 5) != 3 {
		t.Fatal("ints")
	}
	if Or(time.Duration(0), time.Second) != time.Second || Or(time.Millisecond, time.Second) != time.Millisecond {
		t.Fatal("durations")
	}
}
