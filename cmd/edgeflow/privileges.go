package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// serviceUser is the system user the service runs as: the packages and
// "edgeflow service install" create it and give it the state and
// configuration directories. The agent needs no privilege: its ports are
// above 1024 and it writes only its buffer, its log fallback and (through
// the API) its configuration.
const serviceUser = "edgeflow"

// rootCheck decides whether an agent started by uid may run. As root it
// refuses unless allowRoot when one of owned (the buffer's directory, the
// configuration file) belongs to another user: edgeflow is installed here,
// and files root creates there would lock the service out. Otherwise root
// only gets a warning, so that a newcomer's first "edgeflow run" works on a
// fresh machine, where people are often root.
func rootCheck(uid int, allowRoot bool, owned ...string) (warning string, err error) {
	if uid != 0 || allowRoot {
		return "", nil
	}
	for _, p := range owned {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid == 0 {
			continue
		}
		name := strconv.FormatUint(uint64(st.Uid), 10)
		if u, err := user.LookupId(name); err == nil {
			name = u.Username
		}
		return "", fmt.Errorf("refusing to run as root: %s belongs to %s; run edgeflow as %s (sudo -u %s edgeflow run …, or edgeflow service start), or pass --allow-root",
			p, name, name, name)
	}
	return "running as root; on a gateway run edgeflow as the " + serviceUser + " user (edgeflow service install creates it)", nil
}

// errServiceRoot is what "edgeflow service run" says as root without
// --user or --allow-root: the init files never start it that way.
var errServiceRoot = errors.New("refusing to run the service as root: run it as the " + serviceUser +
	" user (the init files of \"edgeflow service install\" and of the packages do), pass --user " + serviceUser +
	" to switch to it, or --allow-root")

// lookupServiceUser returns name's uid and primary gid.
func lookupServiceUser(name string) (uid, gid int, home string, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, "", err
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, "", fmt.Errorf("user %s: uid %q", name, u.Uid)
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, "", fmt.Errorf("user %s: gid %q", name, u.Gid)
	}
	return uid, gid, u.HomeDir, nil
}

// dropPrivileges makes the whole process (every thread: Go's Setuid does
// so on Linux) run as name, with its primary group only. A process already
// running as name has nothing to do; any other non-root one cannot switch.
func dropPrivileges(name string) error {
	uid, gid, home, err := lookupServiceUser(name)
	if err != nil {
		return fmt.Errorf("--user %s: %w", name, err)
	}
	if os.Geteuid() == uid {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("--user %s: only root can switch users (running as uid %d)", name, os.Geteuid())
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("--user %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("--user %s: setgid: %w", name, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("--user %s: setuid: %w", name, err)
	}
	os.Setenv("HOME", home)
	os.Setenv("USER", name)
	os.Setenv("LOGNAME", name)
	return nil
}

// ensureServiceUser creates the system user and group serviceUser when
// there is none, with home (the state directory, not created) and no
// login shell: useradd (Debian, most distributions), else BusyBox adduser,
// else by appending to /etc/passwd and /etc/group as OpenWrt's own
// user_add does. It reports what it did on out.
func ensureServiceUser(home string, out io.Writer) (uid, gid int, err error) {
	if uid, gid, _, err := lookupServiceUser(serviceUser); err == nil {
		return uid, gid, nil
	}
	shell := "/bin/false"
	if _, err := os.Stat("/usr/sbin/nologin"); err == nil {
		shell = "/usr/sbin/nologin"
	}
	var tried []string
	run := func(name string, args ...string) bool {
		path, err := exec.LookPath(name)
		if err != nil {
			return false
		}
		b, err := exec.Command(path, args...).CombinedOutput()
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v: %s", name, err, strings.TrimSpace(string(b))))
			return false
		}
		return true
	}
	created := run("useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home", "--shell", shell, serviceUser)
	if !created {
		// BusyBox: the group first, then the user in it.
		run("addgroup", "-S", serviceUser)
		created = run("adduser", "-S", "-D", "-H", "-h", home, "-s", shell, "-G", serviceUser, serviceUser)
	}
	if !created {
		if err := appendPasswd("/etc", home, shell); err != nil {
			tried = append(tried, "/etc/passwd: "+err.Error())
		} else {
			created = true
		}
	}
	if !created {
		return 0, 0, fmt.Errorf("cannot create the %s user: %s", serviceUser, strings.Join(tried, "; "))
	}
	uid, gid, _, err = lookupServiceUser(serviceUser)
	if err != nil {
		return 0, 0, err
	}
	fmt.Fprintf(out, "created the system user %s (uid %d, gid %d)\n", serviceUser, uid, gid)
	return uid, gid, nil
}

// appendPasswd adds serviceUser and its group to etc/passwd, etc/group
// (and etc/shadow when there is one) with the first id from 200 to 999
// free in both files, for systems without useradd or adduser.
func appendPasswd(etc, home, shell string) error {
	passwd, err := os.ReadFile(filepath.Join(etc, "passwd"))
	if err != nil {
		return err
	}
	group, err := os.ReadFile(filepath.Join(etc, "group"))
	if err != nil {
		return err
	}
	used := map[string]bool{}
	gid := ""
	for i, b := range [][]byte{passwd, group} {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 3 {
				continue
			}
			used[f[2]] = true
			if i == 1 && f[0] == serviceUser {
				gid = f[2] // a group left by a half-finished attempt
			}
		}
	}
	id := ""
	for n := 200; n < 1000 && id == ""; n++ {
		if !used[strconv.Itoa(n)] {
			id = strconv.Itoa(n)
		}
	}
	if id == "" {
		return errors.New("no free id from 200 to 999")
	}
	add := func(file, line string) error {
		path := filepath.Join(etc, file)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			line = "\n" + line
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(line + "\n"); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if gid == "" {
		gid = id
		if err := add("group", serviceUser+":x:"+gid+":"); err != nil {
			return err
		}
	}
	if err := add("passwd", serviceUser+":x:"+id+":"+gid+":edgeflow agent:"+home+":"+shell); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(etc, "shadow")); err == nil {
		return add("shadow", serviceUser+":*:0:0:99999:7:::")
	}
	return nil
}
