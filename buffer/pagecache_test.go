//go:build linux

package buffer

import "testing"

// TestWriteAccountingMatchesPages: what the kernel counts as written
// (write_bytes, what operators and edgeflow-load measure) stays close to
// the pages bbolt writes. Without dropPageCache the meta pages share the
// 16 KiB folio of bbolt's initial write and every commit counts 12 KiB more.
func TestWriteAccountingMatchesPages(t *testing.T) {
	s := openTest(t, Options{})
	if procWriteBytes() == 0 {
		s.mustAppend("q", recs(1, 300, newClock().Now(), "w")...)
		if procWriteBytes() == 0 {
			t.Skip("no write_bytes accounting here (tmpfs, or no /proc/self/io)")
		}
	}
	const n = 50
	w0, io0 := int64(s.m.written.Get()), procWriteBytes()
	for range n {
		s.mustAppend("q", recs(1, 300, newClock().Now(), "w")...)
	}
	bolt, io := int64(s.m.written.Get())-w0, procWriteBytes()-io0
	t.Logf("%d commits: bbolt wrote %d bytes, the kernel counted %d", n, bolt, io)
	if io > bolt*5/4+16<<10 {
		t.Errorf("kernel counted %d bytes written for %d bytes of pages", io, bolt)
	}
}
