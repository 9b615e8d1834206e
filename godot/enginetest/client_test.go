package enginetest

import (
	"testing"
	"time"
)

func TestClientUnit(t *testing.T) {
	t.Parallel()
	runScript(t, 30*time.Second, "client_unit_test.gd")
}

func TestMeetingUnit(t *testing.T) {
	t.Parallel()
	runScript(t, 30*time.Second, "meeting_unit_test.gd")
}

func TestInterpolation(t *testing.T) {
	t.Parallel()
	runScript(t, 30*time.Second, "interpolation_test.gd")
}
