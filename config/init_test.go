package config

import (
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestInitTextParsesToDefault(t *testing.T) {
	c, warns, err := Parse([]byte(InitText()), "init.yaml")
	if err != nil {
		t.Fatalf("InitText has problems:\n%v", err)
	}
	if len(warns) != 0 {
		t.Errorf("InitText has warnings: %v", warns)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("InitText differs from Default:\n%+v\n%+v", c, Default())
	}
}

// TestInitTextShowsEveryKey: a key missing from the printed file is a key
// technicians never learn about.
func TestInitTextShowsEveryKey(t *testing.T) {
	text := InitText()
	secs := []section{connectionKeys(), httpConfigurationKeys(), mqttConfigurationKeys(), deviceKeys()}
	tab := table(settings())
	secs = append(secs, tab.keys(""))
	for _, s := range tab {
		if s.section() {
			secs = append(secs, tab.keys(s.Path))
		}
	}
	for _, s := range secs {
		for _, k := range s.known {
			if !strings.Contains(text, k+":") && !strings.Contains(text, `"`+k+`"`) && !strings.Contains(text, k+" (") && !strings.Contains(text, k+",") {
				t.Errorf("InitText does not mention %q", k)
			}
		}
	}
	// With every commented-out key switched on, it still parses: the
	// examples in comments are right too.
	example := regexp.MustCompile(`^ *(- )?[a-z][A-Za-z]*:( |$)`)
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimLeft(l, " ")
		if rest, ok := strings.CutPrefix(t, "# "); ok && example.MatchString(rest) {
			l = l[:len(l)-len(t)] + rest
		}
		b.WriteString(l + "\n")
	}
	uncommented := strings.Replace(b.String(), "devices: []\n", "", 1)
	if _, _, err := Parse([]byte(uncommented), "uncommented.yaml"); err != nil {
		t.Errorf("InitText with its examples switched on has problems:\n%v\n%s", err, uncommented)
	}
}

// TestNoTemplates keeps text/template and html/template, megabytes on a
// MIPS gateway, out of the package.
func TestNoTemplates(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "text/template" || dep == "html/template" {
			t.Errorf("config depends on %s", dep)
		}
	}
}
