//go:build !linux

package uplink

// systemBoot has no boot clock to offer off Linux: unsynced uplinks keep
// their time.
func systemBoot() (BootStamp, bool) { return BootStamp{}, false }
