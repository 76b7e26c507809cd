package uplink

import (
	"time"
)

// DefaultClockFloor is the earliest wall-clock time edgeflow believes: a
// system clock before it was never set. Gateways without a real-time clock
// boot in 1970 or at their image's build date and learn the time from NTP
// minutes later.
func DefaultClockFloor() time.Time { return time.Unix(defaultClockFloorUnix, 0).UTC() }

// defaultClockFloorUnix is 2025-01-01T00:00:00Z: time.Date's calendar
// arithmetic cost every uplink about 300 instructions on 32-bit ARM.
const defaultClockFloorUnix = 1735689600

// BootStamp is a point on the boot clock (CLOCK_BOOTTIME): it runs from
// boot, through suspend, and is not moved when the wall clock is set.
type BootStamp struct {
	ID    [16]byte      // /proc/sys/kernel/random/boot_id
	Since time.Duration // time since boot
}

// Clock decides whether the wall clock can be trusted and corrects the
// reception time of uplinks received before it could.
type Clock struct {
	// Floor: a wall clock before it is not set.
	Floor time.Time
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Boot reads the boot clock; nil means the system's.
	Boot func() (BootStamp, bool)
}

func (c *Clock) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Clock) boot() (BootStamp, bool) {
	if c.Boot != nil {
		return c.Boot()
	}
	return systemBoot()
}

func (c *Clock) floor() time.Time {
	if c.Floor.IsZero() {
		return DefaultClockFloor()
	}
	return c.Floor
}

// beforeFloor is t.Before(c.floor()). The default floor, a whole second
// without a monotonic reading, is compared in Unix seconds: time.Date and
// the copies of two time.Time cost each uplink about 400 instructions on
// 32-bit ARM.
func (c *Clock) beforeFloor(t *time.Time) bool {
	if c.Floor == (time.Time{}) {
		return t.Unix() < defaultClockFloorUnix
	}
	return t.Before(c.floor())
}

// Synced tells whether the wall clock is plausible now.
func (c *Clock) Synced() bool { return !c.now().Before(c.floor()) }

// Mark flags the uplinks whose reception time cannot be right and stamps
// them with the boot clock, so that the time can be put right later, even
// after they were written to flash.
func (c *Clock) Mark(ups []Uplink) {
	var stamp BootStamp
	var have, ok bool
	for i := range ups {
		u := &ups[i]
		if !c.beforeFloor(&u.ReceivedAt) {
			continue
		}
		if !have {
			stamp, ok = c.boot()
			have = true
		}
		u.Unsynced = true
		if ok {
			u.Boot = stamp
		}
	}
}

// Fix puts the right reception time on an unsynced uplink once the wall
// clock is set: now less the boot-clock time elapsed since reception. It
// returns false while the clock is still unset (the uplink must wait).
// An uplink from an earlier boot cannot be fixed; it keeps its time and
// fixed reports false so the caller can count it.
func (c *Clock) Fix(u *Uplink) (ok, fixed bool) {
	if !u.Unsynced {
		return true, false
	}
	now := c.now()
	if now.Before(c.floor()) {
		return false, false
	}
	u.Unsynced = false
	cur, have := c.boot()
	if !have || cur.ID != u.Boot.ID || cur.Since < u.Boot.Since {
		return true, false
	}
	u.ReceivedAt = now.Add(-(cur.Since - u.Boot.Since)).UTC()
	return true, true
}
