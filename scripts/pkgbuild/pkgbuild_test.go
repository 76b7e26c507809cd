package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type member struct {
	mode     int64
	uid, gid int
	owner    string
	data     []byte
	dir      bool
}

func readTarGz(t *testing.T, b []byte) ([]string, map[string]member) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	m := map[string]member{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		m[h.Name] = member{mode: h.Mode, uid: h.Uid, gid: h.Gid, owner: h.Uname + ":" + h.Gname, data: data, dir: h.Typeflag == tar.TypeDir}
	}
	return names, m
}

func readAr(t *testing.T, b []byte) ([]string, map[string][]byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		t.Fatal("no ar magic")
	}
	b = b[8:]
	var names []string
	m := map[string][]byte{}
	for len(b) > 0 {
		if len(b) < 60 || string(b[58:60]) != "`\n" {
			t.Fatalf("bad ar header %q", b[:min(60, len(b))])
		}
		name := strings.TrimSpace(string(b[:16]))
		if uid := strings.TrimSpace(string(b[28:34])); uid != "0" {
			t.Errorf("%s: uid %s", name, uid)
		}
		size, err := strconv.Atoi(strings.TrimSpace(string(b[48:58])))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		m[name] = b[60 : 60+size]
		b = b[60+size+size%2:]
	}
	return names, m
}

func testOptions(t *testing.T, format, arch string) options {
	dir := t.TempDir()
	bin := filepath.Join(dir, "edgeflow")
	conf := filepath.Join(dir, "edgeflow.yaml")
	os.WriteFile(bin, []byte("\x7fELF fake binary"), 0o600)
	os.WriteFile(conf, []byte("# commented default\npacketForwarder: {}\n"), 0o600)
	return options{format: format, arch: arch, version: "1.2.3+4+gabc", binary: bin, config: conf,
		files: "../packaging", out: filepath.Join(dir, "out"), maintainer: "test <t@example>", mtime: time.Unix(1700000000, 0)}
}

func TestDeb(t *testing.T) {
	o := testOptions(t, "deb", "arm64")
	pkg, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	names, ar := readAr(t, pkg)
	if strings.Join(names, ",") != "debian-binary,control.tar.gz,data.tar.gz" {
		t.Fatalf("ar members %v", names)
	}
	if string(ar["debian-binary"]) != "2.0\n" {
		t.Errorf("debian-binary %q", ar["debian-binary"])
	}
	_, data := readTarGz(t, ar["data.tar.gz"])
	for name, want := range map[string]int64{
		"./usr/bin/edgeflow": 0o755, "./etc/edgeflow/edgeflow.yaml": 0o640,
		"./lib/systemd/system/edgeflow.service": 0o644, "./etc/init.d/edgeflow": 0o755, "./var/lib/edgeflow/": 0o750,
		"./usr/bin/": 0o755, "./": 0o755,
	} {
		m, ok := data[name]
		if !ok {
			t.Errorf("data.tar.gz lacks %s", name)
			continue
		}
		if m.mode != want || m.uid != 0 || m.gid != 0 || m.owner != "root:root" {
			t.Errorf("%s: mode %o %d:%d %s, want %o root:root", name, m.mode, m.uid, m.gid, m.owner, want)
		}
	}
	_, control := readTarGz(t, ar["control.tar.gz"])
	// Debian wants /etc/init.d scripts to be conffiles.
	if got := string(control["./conffiles"].data); got != "/etc/edgeflow/edgeflow.yaml\n/etc/init.d/edgeflow\n" {
		t.Errorf("conffiles %q", got)
	}
	if init := string(data["./etc/init.d/edgeflow"].data); !strings.Contains(init, "--user edgeflow") {
		t.Errorf("the sysv script does not run the agent as edgeflow:\n%s", init)
	}
	if md5s := string(control["./md5sums"].data); !strings.Contains(md5s, "  usr/bin/edgeflow\n") ||
		strings.Contains(md5s, "edgeflow.yaml") || strings.Contains(md5s, "init.d") {
		t.Errorf("md5sums:\n%s", md5s)
	}
	for _, s := range []string{"./postinst", "./prerm", "./postrm"} {
		if control[s].mode != 0o755 {
			t.Errorf("%s mode %o", s, control[s].mode)
		}
	}
	ctl := string(control["./control"].data)
	for _, want := range []string{"Package: edgeflow\n", "Version: 1.2.3+4+gabc\n", "Architecture: arm64\n", "Installed-Size: ",
		"Depends: init-system-helpers"} {
		if !strings.Contains(ctl, want) {
			t.Errorf("control lacks %q:\n%s", want, ctl)
		}
	}

	// dpkg-deb itself, where it is installed.
	if dpkg, err := exec.LookPath("dpkg-deb"); err == nil {
		if err := os.WriteFile(o.out, pkg, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []string{"--info", "--contents"} {
			if out, err := exec.Command(dpkg, arg, o.out).CombinedOutput(); err != nil {
				t.Errorf("dpkg-deb %s: %v\n%s", arg, err, out)
			}
		}
	}
}

func TestIpk(t *testing.T) {
	o := testOptions(t, "ipk", "mipsel_24kc")
	pkg, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	names, outer := readTarGz(t, pkg)
	if strings.Join(names, ",") != "./debian-binary,./data.tar.gz,./control.tar.gz" {
		t.Fatalf("outer members %v (opkg-build -c order: debian-binary, data, control)", names)
	}
	_, data := readTarGz(t, outer["./data.tar.gz"].data)
	init, ok := data["./etc/init.d/edgeflow"]
	if !ok || init.mode != 0o755 || !strings.Contains(string(init.data), "USE_PROCD=1") ||
		!strings.Contains(string(init.data), "procd_set_param user edgeflow") {
		t.Errorf("no procd init script at ./etc/init.d/edgeflow (mode %o)", init.mode)
	}
	for name := range data {
		if strings.HasPrefix(name, "./var") {
			t.Errorf("%s: /var is a symlink to /tmp on OpenWrt; the package must not ship it", name)
		}
	}
	_, control := readTarGz(t, outer["./control.tar.gz"].data)
	if !strings.Contains(string(control["./control"].data), "Architecture: mipsel_24kc\n") {
		t.Errorf("control:\n%s", control["./control"].data)
	}
	if string(control["./conffiles"].data) != "/etc/edgeflow/edgeflow.yaml\n" {
		t.Errorf("conffiles %q", control["./conffiles"].data)
	}
}

func TestBadVersion(t *testing.T) {
	o := testOptions(t, "deb", "amd64")
	o.version = "v1.2.3"
	if _, err := build(o); err == nil {
		t.Error("a version starting with v was accepted")
	}
}
