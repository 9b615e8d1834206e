package webhook

import "testing"

// BenchmarkEnqueue measures what the relay's tick pays per event: encoding
// its data, numbering it and queueing it. The backend never answers, so the
// workers take nothing off the queue; a fresh dispatcher replaces a full one
// outside the timed part.
func BenchmarkEnqueue(b *testing.B) {
	const batch = 8192
	bk, _ := hangingBackend(b)
	bk.arrived = nil // nobody reads arrivals here
	data := PlayerEvent{Room: 42, Player: 7, UserID: "user-123", Name: "alice"}
	var d *Dispatcher
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%batch == 0 {
			b.StopTimer()
			if d != nil {
				d.Close()
			}
			d = &Dispatcher{URL: bk.url, Secret: testSecret, Workers: 1, MaxQueue: batch + 1}
			if err := d.Start(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := d.Enqueue(PlayerJoined, uint32(i%64), data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	d.Close()
}
