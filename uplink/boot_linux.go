package uplink

import (
	"encoding/hex"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// systemBoot reads the boot ID and CLOCK_BOOTTIME.
func systemBoot() (BootStamp, bool) {
	var b BootStamp
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return b, false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(string(id)), "-", ""))
	if err != nil || len(raw) != len(b.ID) {
		return b, false
	}
	copy(b.ID[:], raw)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return b, false
	}
	b.Since = time.Duration(ts.Nano())
	return b, true
}
