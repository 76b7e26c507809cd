package uplink

import (
	"testing"
	"time"
)

// A gateway without a real-time clock boots in 1970; uplinks received then
// get the right time once NTP sets the clock, from the boot clock.
func TestClockFixesUnsyncedReceptionTime(t *testing.T) {
	boot := BootStamp{ID: [16]byte{1}, Since: 30 * time.Second}
	wall := time.Unix(30, 0).UTC() // 30 s after the 1970 epoch: unset
	c := &Clock{Now: func() time.Time { return wall }, Boot: func() (BootStamp, bool) { return boot, true }}

	ups := []Uplink{{FCnt: 1, ReceivedAt: wall}, {FCnt: 2, ReceivedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}}
	c.Mark(ups)
	if !ups[0].Unsynced || ups[0].Boot != boot {
		t.Fatalf("uplink received with an unset clock not marked: %+v", ups[0])
	}
	if ups[1].Unsynced {
		t.Fatalf("uplink with a plausible time marked unsynced")
	}
	// It survives the buffer.
	b, err := ups[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Uplink
	if err := back.UnmarshalBinary(b); err != nil || !back.Unsynced || back.Boot != boot {
		t.Fatalf("record lost the boot stamp: %v %+v", err, back)
	}
	if ok, _ := c.Fix(&back); ok {
		t.Fatal("fixed while the clock is still unset")
	}
	// Five minutes later NTP sets the clock.
	boot.Since += 5 * time.Minute
	wall = time.Date(2026, 11, 25, 10, 5, 30, 0, time.UTC)
	ok, fixed := c.Fix(&back)
	if !ok || !fixed || back.Unsynced {
		t.Fatalf("Fix = %v %v", ok, fixed)
	}
	if want := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC); !back.ReceivedAt.Equal(want) {
		t.Errorf("ReceivedAt = %v, want %v", back.ReceivedAt, want)
	}
	// After a reboot the stamp means nothing: the time stays, not fixed.
	other := Uplink{ReceivedAt: time.Unix(10, 0), Unsynced: true, Boot: BootStamp{ID: [16]byte{2}, Since: time.Second}}
	if ok, fixed := c.Fix(&other); !ok || fixed {
		t.Errorf("uplink of another boot: Fix = %v %v, want true false", ok, fixed)
	}
}

func TestSystemBootClockRuns(t *testing.T) {
	a, ok := systemBoot()
	if !ok {
		t.Skip("no boot clock here")
	}
	time.Sleep(10 * time.Millisecond) // the kernel's boot clock: real time must pass
	b, _ := systemBoot()
	if a.ID != b.ID || b.Since <= a.Since {
		t.Errorf("boot clock: %+v then %+v", a, b)
	}
}

func TestDefaultClockFloorIsNewYear2025(t *testing.T) {
	if got, want := DefaultClockFloor(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC); got != want {
		t.Fatalf("DefaultClockFloor() = %v, want %v", got, want)
	}
}
