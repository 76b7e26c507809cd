package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

const (
	docFile  = "../docs/configuration.md"
	docBegin = "<!-- BEGIN settings: written by `go generate ./config` from config/settings.go; edit the table, not this -->"
	docEnd   = "<!-- END settings -->"
)

// TestConfigurationDoc: the settings section of docs/configuration.md is
// the table's, so that the docs cannot drift from what the file takes.
// `go generate ./config` (or this test with -update) rewrites it.
func TestConfigurationDoc(t *testing.T) {
	data, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(data), "\r\n", "\n")
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", docFile, docBegin, docEnd)
	}
	want := docBegin + "\n" + settingsMarkdown() + docEnd
	if doc[i:j+len(docEnd)] == want {
		return
	}
	if *update {
		if err := os.WriteFile(docFile, []byte(doc[:i]+want+doc[j+len(docEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is not the settings table's; run `go generate ./config`", docFile)
}

// settingsMarkdown writes the table as the docs show it: a heading per
// top-level key, a line per setting with its default, its rule and its
// reason.
func settingsMarkdown() string {
	t := table(settings())
	scratch := scratchConfig(t)
	var b strings.Builder
	reason := ""
	for _, s := range t {
		if !s.Along {
			reason = strings.ReplaceAll(s.Reason, "\n", " ")
		}
		if !strings.Contains(s.Path, ".") {
			fmt.Fprintf(&b, "\n### `%s`\n\n", s.Path)
			if s.section() {
				if reason != "" {
					b.WriteString(reason + "\n\n")
				}
				continue
			}
		}
		if s.section() && !s.Optional {
			continue
		}
		fmt.Fprintf(&b, "- `%s`", s.Path)
		var facts []string
		switch {
		case s.Ignored != "":
			facts = append(facts, "no longer read: "+s.Ignored)
		case s.Optional:
			facts = append(facts, "off unless given")
		case s.DefaultFrom != nil:
			facts = append(facts, "default: depends on the machine, e.g. `"+s.Example+"`")
		case s.Example != "":
			facts = append(facts, "no default; e.g. `"+s.Example+"`")
		case s.init != nil && s.Default == nil:
			facts = append(facts, "none by default")
		case s.init != nil:
			facts = append(facts, "default: see `edgeflow config init`")
		default:
			facts = append(facts, "default `"+formatValue(s.defaultOf(scratch, Dirs{}))+"`")
		}
		if s.Check.doc != "" {
			facts = append(facts, s.Check.doc)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(facts, "; "))
		if reason != "" && s.Ignored == "" {
			b.WriteString(": " + reason)
		}
		b.WriteString("\n")
		if s.Path == "devices" {
			for _, k := range deviceKeyTable() {
				fmt.Fprintf(&b, "- `devices[].%s`", k.key)
				if k.alias != "" {
					fmt.Fprintf(&b, " (or `%s`: %s)", k.alias, k.aliasWhy)
				}
				b.WriteString(": " + k.reason + "\n")
			}
		}
	}
	return b.String()
}
