package main

import (
	"errors"
	"strings"
)

// The OpenWrt configuration's buffer: on flash, small. /var, /tmp and /run
// are RAM on OpenWrt (the backlog, frame counters and OTAA sessions would
// be gone after every reboot); /etc is the overlay on flash, where OpenWrt
// packages keep their state.
const (
	openwrtBufferPath = "/etc/edgeflow/buffer.db"
	openwrtMaxSize    = "4MiB"
)

// openwrtConfig turns "edgeflow config init" into the configuration for an
// OpenWrt router: what the .ipk installs and "service install --init
// procd" writes.
func openwrtConfig(initText string) (string, error) {
	var b strings.Builder
	path, size := false, false
	for _, line := range strings.SplitAfter(initText, "\n") {
		switch {
		case !path && strings.HasPrefix(line, "  # path: "):
			b.WriteString("  # On OpenWrt /var is RAM: the buffer lives on flash, beside this file.\n")
			b.WriteString("  path: \"" + openwrtBufferPath + "\"\n")
			path = true
		case !size && strings.HasPrefix(line, "  maxSize: "):
			b.WriteString("  # " + openwrtMaxSize + " on a router: its overlay often has only a few MB free on a\n")
			b.WriteString("  # 16 MB flash, and the file is mapped into a 64-128 MB RAM. Still thousands\n")
			b.WriteString("  # of uplinks (with persist on-outage, only what an outage holds back).\n")
			b.WriteString("  maxSize: \"" + openwrtMaxSize + "\"\n")
			size = true
		default:
			b.WriteString(line)
		}
	}
	if !path || !size {
		return "", errors.New("config init no longer has the buffer's path and maxSize lines the OpenWrt configuration changes")
	}
	return b.String(), nil
}
