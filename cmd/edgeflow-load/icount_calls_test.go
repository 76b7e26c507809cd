package main

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// topCalls finds an ARM BL at the end of a block and charges its runs to
// the caller's name and the callee's: it is checked on a real armv7 build
// (testdata/callee), with a block profile made up around the call.
func TestTopCalls(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "callee")
	build := exec.Command("go", "build", "-o", bin, "./testdata/callee")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm", "GOARM=7", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The BL in main.caller, found as topCalls decodes it.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	text := f.Section(".text")
	code, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	var caller, callee elf.Symbol
	for _, s := range syms {
		switch s.Name {
		case "main.caller":
			caller = s
		case "main.callee":
			callee = s
		}
	}
	if caller.Size == 0 || callee.Size == 0 {
		t.Fatal("main.caller or main.callee not in the symbol table")
	}
	var bl uint64
	for pc := caller.Value; pc < caller.Value+caller.Size; pc += 4 {
		w := binary.LittleEndian.Uint32(code[pc-text.Addr:])
		if w&0x0f000000 == 0x0b000000 && w>>28 != 0xf &&
			uint64(int64(pc)+8+int64(int32(w<<8)>>6)) == callee.Value {
			bl = pc
			break
		}
	}
	if bl == 0 {
		t.Fatal("no BL to main.callee in main.caller")
	}
	// A block of two instructions ending at the BL, run 30 times in the
	// window; a block ending just before it (no call) run as often.
	before := icountSnap{blocks: map[uint64][2]uint64{bl - 4: {2, 10}, bl - 8: {2, 10}}}
	after := icountSnap{blocks: map[uint64][2]uint64{bl - 4: {2, 40}, bl - 8: {2, 40}}}
	got, err := topCalls(bin, before, after, 10, regexp.MustCompile(`^main\.callee$`), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Caller != "main.caller" || got[0].Callee != "main.callee" || got[0].Calls != 3 {
		t.Fatalf("topCalls = %+v, want main.caller -> main.callee 3 calls per uplink", got)
	}
	if got, _ := topCalls(bin, before, after, 10, regexp.MustCompile(`^runtime\.`), 5); len(got) != 0 {
		t.Fatalf("calls to runtime.* listed: %+v", got)
	}
}
