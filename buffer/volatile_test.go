package buffer

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestVolatileFS finds a tmpfs mount in /proc/mounts (every Linux has
// /dev/shm or /run) and a disk-backed directory, and asks VolatileFS about
// both.
func TestVolatileFS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	f, err := os.Open("/proc/mounts")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	byType := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text()) // device mountpoint type options …
		if len(fields) >= 3 && byType[fields[2]] == "" {
			byType[fields[2]] = fields[1]
		}
	}
	tmpfs := byType["tmpfs"]
	if tmpfs == "" {
		t.Skip("no tmpfs mounted here")
	}
	if got := VolatileFS(tmpfs); got != "tmpfs" {
		t.Errorf("VolatileFS(%s) = %q, want tmpfs", tmpfs, got)
	}
	if proc := VolatileFS("/proc"); proc != "" {
		t.Errorf("VolatileFS(/proc) = %q, want \"\"", proc)
	}
	if got := VolatileFS("/no/such/dir"); got != "" {
		t.Errorf("VolatileFS of a missing directory = %q", got)
	}
}
