package main

// Guest instruction counts of an agent under qemu (--icount): the
// scripts/qemu-icount plugin counts what the emulated CPU executes, a
// measure that moves by under 1 % from run to run where CPU time on a
// shared machine moves by ±40 %.

import (
	"bufio"
	"cmp"
	"debug/elf"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// icount reads the plugin's counters and block profiles through its file.
type icount struct{ path string }

// icountSnap is one reading: totals, and executions per block (by pc).
type icountSnap struct {
	insns, tbs, trans uint64
	blocks            map[uint64][2]uint64 // pc → instructions per run, runs
}

// snap asks the plugin for its block profile and reads it with the totals.
func (c icount) snap() (icountSnap, error) {
	var s icountSnap
	if err := os.WriteFile(c.path+".dump", nil, 0o600); err != nil {
		return s, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(c.path + ".dump"); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("icount: the plugin did not answer through %s (is --qemu a qemu that loads plugins, e.g. qemu-arm?)", c.path)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return s, err
	}
	if _, err := fmt.Sscan(string(b), &s.insns, &s.tbs, &s.trans); err != nil {
		return s, fmt.Errorf("icount: %s: %v", c.path, err)
	}
	f, err := os.Open(c.path + ".prof")
	if err != nil {
		return s, err
	}
	defer f.Close()
	s.blocks = map[uint64][2]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		pc, _ := strconv.ParseUint(fs[0], 16, 64)
		n, _ := strconv.ParseUint(fs[1], 10, 64)
		runs, _ := strconv.ParseUint(fs[2], 10, 64)
		v := s.blocks[pc]
		// A block translated twice has two entries: add their runs.
		s.blocks[pc] = [2]uint64{n, v[1] + runs}
	}
	return s, sc.Err()
}

// funcShare is a function's instructions per uplink.
type funcShare struct {
	Name   string  `json:"function"`
	Insns  float64 `json:"insns_per_uplink"`
	Blocks float64 `json:"blocks_per_uplink"`
}

// topFuncs attributes the blocks run between a and b to the functions of
// the agent's binary and returns the top n per uplink.
func topFuncs(bin string, a, b icountSnap, uplinks float64, n int) ([]funcShare, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %v (built with -s? the profile needs the symbol table)", bin, err)
	}
	syms = slices.DeleteFunc(syms, func(s elf.Symbol) bool { return elf.ST_TYPE(s.Info) != elf.STT_FUNC })
	slices.SortFunc(syms, func(x, y elf.Symbol) int { return cmp.Compare(x.Value, y.Value) })
	by := map[string]*funcShare{}
	for pc, v := range b.blocks {
		runs := v[1] - a.blocks[pc][1]
		if runs == 0 || runs > v[1] {
			continue
		}
		i, _ := slices.BinarySearchFunc(syms, pc, func(s elf.Symbol, pc uint64) int { return cmp.Compare(s.Value, pc+1) })
		name := fmt.Sprintf("%#x", pc)
		if i > 0 && pc < syms[i-1].Value+max(syms[i-1].Size, 1) {
			name = syms[i-1].Name
		}
		fs := by[name]
		if fs == nil {
			fs = &funcShare{Name: name}
			by[name] = fs
		}
		fs.Insns += float64(runs*v[0]) / uplinks
		fs.Blocks += float64(runs) / uplinks
	}
	var out []funcShare
	for _, fs := range by {
		out = append(out, *fs)
	}
	slices.SortFunc(out, func(x, y funcShare) int { return cmp.Compare(y.Insns, x.Insns) })
	return out[:min(n, len(out))], nil
}

// fillICount reads the plugin's counters after the load and reports them
// per uplink, with the top functions when asked.
func fillICount(rep *report, o options, ic icount, before icountSnap) error {
	after, err := ic.snap()
	if err != nil {
		return err
	}
	n := float64(max(rep.Delivered, rep.Acked*o.rxpk))
	if n == 0 {
		return nil
	}
	rep.InsnsPerUp = float64(after.insns-before.insns) / n
	rep.BlocksPerUp = float64(after.tbs-before.tbs) / n
	rep.Translations = after.trans - before.trans
	if o.icountTop > 0 {
		rep.TopFuncs, err = topFuncs(o.agentBin, before, after, n, o.icountTop)
	}
	if err == nil && o.icountCalls != "" {
		re, rerr := regexp.Compile(o.icountCalls)
		if rerr != nil {
			return fmt.Errorf("--icount-calls: %v", rerr)
		}
		rep.TopCalls, err = topCalls(o.agentBin, before, after, n, re, o.icountTop)
	}
	return err
}
