// Command pkgbuild builds edgeflow's Debian (.deb) and OpenWrt (.ipk)
// packages with nothing but Go: no dpkg-deb, opkg-build, nfpm or Docker.
//
//	go run ./scripts/pkgbuild -format deb -arch arm64 -version 1.2.3 \
//	    -binary dist/edgeflow_linux_arm64 -config dist/edgeflow.yaml \
//	    -files scripts/packaging -out dist/edgeflow_1.2.3_arm64.deb
//
// A .deb is ar(debian-binary "2.0\n", control.tar.gz, data.tar.gz); an
// OpenWrt .ipk is tar.gz(debian-binary, data.tar.gz, control.tar.gz), as
// "opkg-build -c" writes it. Both install /usr/bin/edgeflow, the commented
// default configuration /etc/edgeflow/edgeflow.yaml as a conffile (kept on
// upgrade) and the service, run as the edgeflow user that postinst
// creates: in the .deb a systemd unit and a System V init script (a
// conffile, as Debian wants /etc/init.d scripts), for hosts with and
// without systemd; in the .ipk a procd init script.
package main

import (
	"bytes"
	"crypto/md5"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	pkgName  = "edgeflow"
	binPath  = "usr/bin/edgeflow"
	confPath = "etc/edgeflow/edgeflow.yaml"
	initPath = "etc/init.d/edgeflow"
	dataDir  = "var/lib/edgeflow"
	// maintainer is who answers for the packages; release.sh may override it.
	maintainer = "edgeflow maintainers <maintainers@edgeflow.invalid>"
	// debDepends: deb-systemd-helper, deb-systemd-invoke and invoke-rc.d,
	// which postinst, prerm and postrm use as debhelper's snippets do.
	debDepends  = "init-system-helpers (>= 1.54~)"
	summary     = "LoRaWAN gateway agent: uplinks to Cayenne and other IoT Flow connections"
	description = `edgeflow runs on a LoRaWAN gateway: it decodes the uplinks the gateway's
packet forwarder receives, keeps them on flash while the internet or the
cloud is down, and delivers them to the connections configured on the
gateway, first of all myDevices Cayenne through its Actility endpoint.`
)

type options struct {
	format, arch, version, binary, config, files, out, maintainer string
	mtime                                                         time.Time
}

func main() {
	var o options
	flag.StringVar(&o.format, "format", "", "deb or ipk")
	flag.StringVar(&o.arch, "arch", "", "package architecture (deb: amd64, arm64, armhf; ipk: mips_24kc, mipsel_24kc, aarch64_generic, …)")
	flag.StringVar(&o.version, "version", "", "package version (must start with a digit)")
	flag.StringVar(&o.binary, "binary", "", "the edgeflow binary for this architecture")
	flag.StringVar(&o.config, "config", "", "the default configuration (edgeflow config init)")
	flag.StringVar(&o.files, "files", "scripts/packaging", "directory with edgeflow.service, edgeflow.sysv, edgeflow.procd, deb/ and ipk/ scripts")
	flag.StringVar(&o.out, "out", "", "package file to write")
	flag.StringVar(&o.maintainer, "maintainer", maintainer, "Maintainer field")
	epoch := flag.Int64("mtime", 0, "time stamp of every member, Unix seconds (default $SOURCE_DATE_EPOCH, else now)")
	flag.Parse()
	if *epoch == 0 {
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				fatalf("SOURCE_DATE_EPOCH=%q: %v", s, err)
			}
			*epoch = n
		} else {
			*epoch = time.Now().Unix()
		}
	}
	o.mtime = time.Unix(*epoch, 0).UTC()
	pkg, err := build(o)
	if err != nil {
		fatalf("%v", err)
	}
	if err := os.WriteFile(o.out, pkg, 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("%s: %d bytes\n", o.out, len(pkg))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pkgbuild: "+format+"\n", args...)
	os.Exit(1)
}

// build returns the package file's bytes.
func build(o options) ([]byte, error) {
	if o.format != "deb" && o.format != "ipk" {
		return nil, fmt.Errorf("-format %q: want deb or ipk", o.format)
	}
	for name, v := range map[string]string{"-arch": o.arch, "-version": o.version, "-binary": o.binary, "-config": o.config, "-out": o.out} {
		if v == "" {
			return nil, fmt.Errorf("%s is required", name)
		}
	}
	if o.version[0] < '0' || o.version[0] > '9' || strings.ContainsAny(o.version, " _/") {
		return nil, fmt.Errorf("-version %q: must start with a digit and hold no space, _ or /", o.version)
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, err
	}
	conf, err := os.ReadFile(o.config)
	if err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(o.files, name)) }

	data := []entry{
		{Name: binPath, Mode: 0o755, Data: bin},
		{Name: confPath, Mode: 0o640, Data: conf}, // will hold device keys
	}
	if o.format == "deb" {
		unit, err := read("edgeflow.service")
		if err != nil {
			return nil, err
		}
		sysv, err := read("edgeflow.sysv")
		if err != nil {
			return nil, err
		}
		data = append(data,
			entry{Name: "lib/systemd/system/edgeflow.service", Mode: 0o644, Data: unit},
			entry{Name: initPath, Mode: 0o755, Data: sysv},
			entry{Name: dataDir, Mode: 0o750, Dir: true})
	} else {
		// No var/ entries: /var is a symlink to /tmp on OpenWrt; postinst
		// and the agent create the data directory.
		initScript, err := read("edgeflow.procd")
		if err != nil {
			return nil, err
		}
		data = append(data, entry{Name: initPath, Mode: 0o755, Data: initScript})
	}

	conffiles := "/" + confPath + "\n"
	if o.format == "deb" {
		conffiles += "/" + initPath + "\n"
	}
	control := []entry{
		{Name: "control", Mode: 0o644, Data: []byte(controlFile(o, data))},
		{Name: "conffiles", Mode: 0o644, Data: []byte(conffiles)},
	}
	if o.format == "deb" {
		control = append(control, entry{Name: "md5sums", Mode: 0o644, Data: []byte(md5sums(data))})
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		b, err := read(filepath.Join(o.format, script))
		if err != nil {
			return nil, err
		}
		if !bytes.HasPrefix(b, []byte("#!")) {
			return nil, fmt.Errorf("%s/%s: no #! line", o.format, script)
		}
		control = append(control, entry{Name: script, Mode: 0o755, Data: b})
	}

	dataTar, err := tarGz(data, o.mtime, true)
	if err != nil {
		return nil, err
	}
	controlTar, err := tarGz(control, o.mtime, true)
	if err != nil {
		return nil, err
	}
	debianBinary := []byte("2.0\n")
	var out bytes.Buffer
	if o.format == "deb" {
		err = writeAr(&out, []arMember{
			{Name: "debian-binary", Data: debianBinary},
			{Name: "control.tar.gz", Data: controlTar},
			{Name: "data.tar.gz", Data: dataTar},
		}, o.mtime)
		return out.Bytes(), err
	}
	return tarGz([]entry{
		{Name: "debian-binary", Mode: 0o644, Data: debianBinary},
		{Name: "data.tar.gz", Mode: 0o644, Data: dataTar},
		{Name: "control.tar.gz", Mode: 0o644, Data: controlTar},
	}, o.mtime, false)
}

// controlFile is the package's control file. Installed-Size is in KiB for
// dpkg and in bytes for opkg.
func controlFile(o options, data []entry) string {
	var size int64
	for _, e := range data {
		size += int64(len(e.Data))
	}
	installed := strconv.FormatInt(size, 10)
	if o.format == "deb" {
		installed = strconv.FormatInt((size+1023)/1024, 10)
	}
	var b strings.Builder
	field := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, v) }
	field("Package", pkgName)
	field("Version", o.version)
	if o.format == "ipk" {
		field("Source", pkgName)
	}
	field("Architecture", o.arch)
	field("Maintainer", o.maintainer)
	if o.format == "deb" {
		field("Depends", debDepends)
	}
	field("Installed-Size", installed)
	field("Section", "net")
	field("Priority", "optional")
	field("Description", summary)
	for _, line := range strings.Split(description, "\n") {
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}

// md5sums lists every regular file but the conffiles (dpkg tracks those
// itself), "HASH  path" as dh_md5sums writes it.
func md5sums(data []entry) string {
	var lines []string
	for _, e := range data {
		if e.Dir || e.Name == confPath || e.Name == initPath {
			continue
		}
		lines = append(lines, fmt.Sprintf("%x  %s\n", md5.Sum(e.Data), e.Name))
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}
