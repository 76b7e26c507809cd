package main

import (
	"os/exec"
	"strings"
	"testing"
)

// badDeps are packages that must not be linked into the agent. The MIPS
// gateways have 16 MB of flash: text/template and html/template reach
// reflect.Value.MethodByName, which turns off the linker's dead-code
// elimination of methods and costs megabytes; pprof and expvar are
// debugging endpoints nobody should find open on a gateway.
var badDeps = map[string]string{
	"text/template":  "disables method dead-code elimination (+MBs on MIPS)",
	"html/template":  "disables method dead-code elimination (+MBs on MIPS)",
	"net/http/pprof": "debug endpoint, not for gateways",
	"expvar":         "debug endpoint, not for gateways",
}

// TestDeps lists what the agent links for the smallest target (linux/mipsle)
// and fails on any package of badDeps, naming the packages that import it.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=mipsle", "GOMIPS=softfloat", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, msg)
	}
	importers := map[string][]string{}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		seen[f[0]] = true
		for _, imp := range f[1:] {
			importers[imp] = append(importers[imp], f[0])
		}
	}
	if len(seen) < 10 {
		t.Fatalf("go list -deps returned only %d packages; the listing is not trustworthy:\n%s", len(seen), out)
	}
	for dep, why := range badDeps {
		if seen[dep] {
			t.Errorf("the agent binary links %s (%s); imported by %s", dep, why, strings.Join(importers[dep], ", "))
		}
	}
}
