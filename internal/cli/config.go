package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"sigs.k8s.io/yaml"
)

// Config is the CLI's configuration file: named contexts (a server and the
// credentials for it) and which one is current. It holds API tokens, so it is
// written with mode 0600.
type Config struct {
	CurrentContext string    `json:"current-context,omitempty"`
	Contexts       []Context `json:"contexts"`

	path string
}

// Context is one server and how to act on it.
type Context struct {
	Name        string `json:"name"`
	Server      string `json:"server"`
	Token       string `json:"token,omitempty"`
	Org         string `json:"org,omitempty"`         // default organisation
	Fingerprint string `json:"fingerprint,omitempty"` // pinned server certificate
	User        string `json:"user,omitempty"`        // e-mail of the token's user, for display
}

// ConfigPath is where the configuration lives:
// $XDG_CONFIG_HOME/sirocco/config.yaml (os.UserConfigDir).
func ConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(dir, "sirocco", "config.yaml"), nil
}

// config loads the configuration once; a missing file is an empty one.
func (a *app) config() (*Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	p, err := ConfigPath()
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(p)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// LoadConfig reads the configuration at p.
func LoadConfig(p string) (*Config, error) {
	cfg := &Config{path: p}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, cfg); err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", p, err)
	}
	return cfg, nil
}

// Save writes the configuration atomically with mode 0600.
func (c *Config) Save() error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.yaml") // created 0600
	if err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := os.Rename(f.Name(), c.path); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	return nil
}

// Find returns the context called name, or nil.
func (c *Config) Find(name string) *Context {
	if name == "" {
		return nil
	}
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i]
		}
	}
	return nil
}

// Put adds or replaces a context.
func (c *Config) Put(ctx Context) {
	if cur := c.Find(ctx.Name); cur != nil {
		*cur = ctx
		return
	}
	c.Contexts = append(c.Contexts, ctx)
}

// Delete removes a context and reports whether it was there. Deleting the
// current context leaves none current.
func (c *Config) Delete(name string) bool {
	i := slices.IndexFunc(c.Contexts, func(x Context) bool { return x.Name == name })
	if i < 0 {
		return false
	}
	c.Contexts = slices.Delete(c.Contexts, i, i+1)
	if c.CurrentContext == name {
		c.CurrentContext = ""
	}
	return true
}
