package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration. Line and Column are
// 1-based positions in the file, 0 when the configuration was built in code.
// Path names the field the way a technician finds it in the file, e.g.
// "devices[2].nwkSKey" or "connections[0].configuration.destinationURL".
type Problem struct {
	Line, Column int
	Path         string
	Msg          string
}

// Format renders the problem as "FILE:LINE: PATH: MESSAGE", leaving out the
// parts that are unknown; without a file it reads "line LINE: PATH: MESSAGE".
func (p Problem) Format(file string) string {
	var b strings.Builder
	if file != "" {
		b.WriteString(file)
		b.WriteString(":")
	}
	switch {
	case p.Line > 0 && file != "":
		fmt.Fprintf(&b, "%d:", p.Line)
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d:", p.Line) // a bare number would read as part of the message
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

func (p Problem) String() string { return p.Format("") }

// Warning is something accepted that the operator should know about, such
// as a CAYENNE connection pointed at another URL (a test bench or a proxy)
// or an IoT Flow parameter edgeflow ignores. It has the shape of a Problem.
type Warning Problem

// Format renders the warning as "FILE:LINE: PATH: MESSAGE".
func (w Warning) Format(file string) string { return Problem(w).Format(file) }

func (w Warning) String() string { return Problem(w).Format("") }

// Error lists every problem found in one configuration, so that a
// technician on a slow SSH session fixes them all in one edit.
type Error struct {
	File     string // as given to Load or Parse; "" from Validate
	Problems []Problem
}

// Error prints one problem per line as "FILE:LINE: PATH: MESSAGE".
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Format(e.File)
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems as they appear in the file; problems without
// a position keep their relative order after those with one.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Column, b.Column)
	})
}

func sortWarnings(ws []Warning) {
	slices.SortStableFunc(ws, func(a, b Warning) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Column, b.Column)
	})
}
