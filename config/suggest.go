package config

import (
	"fmt"
	"strings"
	"unicode"
)

// suggest returns the known word a technician most likely meant by got, or
// "" when nothing is close. Case and separators go first ("destinationUrl",
// "udp_bind"), then edit distance, so the answer is the one a person would
// give.
func suggest(got string, known []string) string {
	if len(got) > 100 || got == "" {
		return "" // a pasted blob, not a typo
	}
	g := fold(got)
	for _, k := range known {
		if fold(k) == g {
			return k
		}
	}
	best, bestD := "", 0
	for _, k := range known {
		d := distance(g, fold(k))
		if d <= maxDistance(k) && (best == "" || d < bestD) {
			best, bestD = k, d
		}
	}
	if best != "" {
		return best
	}
	// "url" for "destinationURL", "udp_bind" for "bind": one contains the other.
	for _, k := range known {
		fk := fold(k)
		if (len(g) >= 3 && strings.Contains(fk, g)) || (len(fk) >= 4 && strings.Contains(g, fk)) {
			return k
		}
	}
	return ""
}

// maxDistance is how many edits still read as a typo of k: one for short
// words, about a third of longer ones.
func maxDistance(k string) int {
	return max(1, len(k)/3)
}

// fold lower-cases and drops separators and typographic quotes, which word
// processors and chat apps put into pasted JSON.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '_', '-', '.', ' ', '"', '\'', '\u201c', '\u201d', '\u2018', '\u2019':
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// distance is the Levenshtein distance between a and b, by runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// oneOf explains which values are allowed, suggesting the nearest one.
func oneOf(what, got string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, got)
	if s := suggest(got, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + " (known: " + strings.Join(known, ", ") + ")"
}
