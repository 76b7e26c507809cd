package main

// Call sites per uplink (--icount-calls): a translation block ends at a
// branch, so a block whose last instruction is an ARM BL was a call, run
// as often as the block. Attributing those to the calling function names
// who asks for the runtime's work (an allocation, a struct copy, a
// select) that --icount-top only shows as the runtime's.

import (
	"cmp"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
)

// callShare is how often a function calls another per uplink.
type callShare struct {
	Caller string  `json:"caller"`
	Callee string  `json:"callee"`
	Calls  float64 `json:"calls_per_uplink"`
}

// topCalls lists the calls made between a and b to the functions whose
// name matches callee, by caller, the n most frequent first. Only 32-bit
// ARM code (the qemu-arm builds) is read.
func topCalls(bin string, a, b icountSnap, uplinks float64, callee *regexp.Regexp, n int) ([]callShare, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Machine != elf.EM_ARM {
		return nil, fmt.Errorf("--icount-calls reads 32-bit ARM code; %s is %v", bin, f.Machine)
	}
	text := f.Section(".text")
	if text == nil {
		return nil, fmt.Errorf("%s: no .text section", bin)
	}
	code, err := text.Data()
	if err != nil {
		return nil, err
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %v (built with -s? the profile needs the symbol table)", bin, err)
	}
	syms = slices.DeleteFunc(syms, func(s elf.Symbol) bool { return elf.ST_TYPE(s.Info) != elf.STT_FUNC })
	slices.SortFunc(syms, func(x, y elf.Symbol) int { return cmp.Compare(x.Value, y.Value) })
	name := func(pc uint64) string {
		i, _ := slices.BinarySearchFunc(syms, pc, func(s elf.Symbol, pc uint64) int { return cmp.Compare(s.Value, pc+1) })
		if i > 0 && pc < syms[i-1].Value+max(syms[i-1].Size, 1) {
			return syms[i-1].Name
		}
		return fmt.Sprintf("%#x", pc)
	}
	by := map[[2]string]float64{}
	for pc, v := range b.blocks {
		runs := v[1] - a.blocks[pc][1]
		if runs == 0 || runs > v[1] || v[0] == 0 {
			continue
		}
		last := pc + 4*(v[0]-1)
		if last < text.Addr || last+4 > text.Addr+uint64(len(code)) {
			continue
		}
		w := binary.LittleEndian.Uint32(code[last-text.Addr:])
		if w&0x0f000000 != 0x0b000000 || w>>28 == 0xf { // BL<cond>, not BLX
			continue
		}
		off := int64(int32(w<<8) >> 6) // imm24, sign-extended, × 4
		to := name(uint64(int64(last) + 8 + off))
		if !callee.MatchString(to) {
			continue
		}
		by[[2]string{name(pc), to}] += float64(runs) / uplinks
	}
	var out []callShare
	for k, calls := range by {
		out = append(out, callShare{Caller: k[0], Callee: k[1], Calls: calls})
	}
	slices.SortFunc(out, func(x, y callShare) int { return cmp.Compare(y.Calls, x.Calls) })
	return out[:min(n, len(out))], nil
}
