package main

import (
	"flag"
	"fmt"
	"io"

	"edgeflow/config"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: edgeflow config validate --config FILE | edgeflow config init [--openwrt]\n")
		return 2
	}
	switch args[0] {
	case "init":
		fs := flag.NewFlagSet("config init", flag.ContinueOnError)
		fs.SetOutput(stderr)
		openwrt := fs.Bool("openwrt", false, "for an OpenWrt router: the buffer on flash (/etc/edgeflow), 4MiB")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		text := config.InitText()
		if *openwrt {
			var err error
			if text, err = openwrtConfig(text); err != nil {
				fmt.Fprintf(stderr, "edgeflow config init: %v\n", err)
				return 1
			}
		}
		fmt.Fprint(stdout, text)
		return 0
	case "validate":
		fs := flag.NewFlagSet("config validate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "", "configuration file to check")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if *path == "" && fs.NArg() == 1 {
			*path = fs.Arg(0)
		}
		if *path == "" {
			fmt.Fprint(stderr, "usage: edgeflow config validate --config FILE\n")
			return 2
		}
		if cfg, code := loadConfigOr(*path, stderr, "fix the lines above and validate again"); cfg == nil {
			return code
		}
		fmt.Fprintf(stdout, "%s is valid\n", *path)
		return 0
	default:
		fmt.Fprintf(stderr, "edgeflow config: unknown command %q\n", args[0])
		return 2
	}
}
