package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminal returns the file descriptor of r when it is a terminal.
func terminal(r any) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// line reads one line from stdin, without its line ending.
func (a *app) line() (string, error) {
	if a.stdin == nil {
		a.stdin = bufio.NewReader(a.in)
	}
	s, err := a.stdin.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("read standard input: nothing to read")
		}
		return "", fmt.Errorf("read standard input: %w", err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// ask prompts for a line on the terminal; flag names the flag that gives the
// value without a terminal.
func (a *app) ask(prompt, flag string) (string, error) {
	if _, ok := terminal(a.in); !ok {
		return "", usagef("%s is required when standard input is not a terminal", flag)
	}
	fmt.Fprint(a.errw, prompt)
	s, err := a.line()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// password reads a password: the first line of stdin with --password-stdin,
// otherwise from the terminal without echo (twice when confirm is set).
func (a *app) password(fromStdin, confirm bool) (string, error) {
	if fromStdin {
		pw, err := a.line()
		if err != nil {
			return "", err
		}
		if pw == "" {
			return "", usagef("--password-stdin: the first line of standard input is empty")
		}
		return pw, nil
	}
	fd, ok := terminal(a.in)
	if !ok {
		return "", usagef("cannot prompt for a password: standard input is not a terminal (use --password-stdin)")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(a.errw, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.errw)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	pw, err := read("Password: ")
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := read("Password again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords do not match")
		}
	}
	return pw, nil
}
