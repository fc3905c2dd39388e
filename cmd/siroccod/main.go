// Command siroccod is the Sirocco control plane: `siroccod serve` runs the
// REST API and the background loops. This package only parses flags and
// wires the internal packages together.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

const usage = `siroccod is the Sirocco control plane.

Usage:
  siroccod serve [flags]   run the API, console and background loops
  siroccod agent [flags]   run a hypervisor host's agent (first time: --join URL --token T)
  siroccod migrate-store --from FILE --to URL
                           copy an SQLite store into an empty PostgreSQL database (siroccod stopped)
  siroccod version         print the version

Run 'siroccod serve -h' for the flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:])
		if err != nil {
			if err == errHelp {
				return 0
			}
			fmt.Fprintf(os.Stderr, "siroccod serve: %v\n", err)
			return 2
		}
		if err := serve(ctx, cfg); err != nil {
			fmt.Fprintf(os.Stderr, "siroccod: %v\n", err)
			return 1
		}
		return 0
	case "agent":
		return runAgent(ctx, args[1:])
	case "migrate-store":
		return runMigrateStore(ctx, args[1:], os.Stdout)
	case "version", "--version":
		fmt.Println(version)
		return 0
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "siroccod: unknown command %q\n\n%s", args[0], usage)
	return 2
}
