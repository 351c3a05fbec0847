// Command envconsul is the start-up bench's stand-in for HashiCorp envconsul.
//
// The Go module proxy refuses github.com/hashicorp/envconsul, so the bench
// cannot `go install` it on a fresh machine. envconsul's work is done by the
// library github.com/hashicorp/consul-template, which the proxy serves; this
// program drives that library along the path envconsul's main takes for
// `envconsul -config FILE -once APP ARGS...`, the way the bench runs it
// (scripts/bench/contestants.ts):
//
//  1. The config file is decoded with hcl, its `vault` stanza with
//     mapstructure into consul-template's config.VaultConfig (by that type's
//     own tags, as in envconsul), merged over config.DefaultVaultConfig() and
//     finalized (which takes VAULT_TOKEN from the environment); Consul gets
//     config.DefaultConsulConfig(), finalized.
//  2. dep.NewClientSet() with CreateConsulClient and CreateVaultClient.
//  3. watch.VaultTokenWatcher(clients, vault, done) (token handling; no
//     renewal with renew_token = false).
//  4. watch.NewWatcher(Once: true, MaxStale: 2s, the retry functions) and one
//     dep.NewVaultReadQuery per `secret` stanza, added to the watcher; the
//     program waits until every query has delivered its data once.
//  5. The environment: this process's own, plus each secret's keys (KV v2's
//     `data` unwrapped; `<path>_` prefixed unless no_prefix = true).
//  6. child.CommandPrep of the arguments joined by spaces (so `sh -c`, like
//     envconsul), child.New + Start: the app runs as a subprocess and this
//     process stays its parent, forwards signals and exits with its code.
//
// Secret paths are Go templates with an `env` function, as in envconsul.
//
// Not covered (the bench does not use them): Consul prefixes and services,
// formats and per-key stanzas, upcase/sanitize/pristine, exec stanzas in the
// file, quiescence timers, pid files, syslog, reload on SIGHUP, the
// non-`-once` watch loop. Only the `vault` and `secret` (path, no_prefix)
// stanzas of the file are read; anything else in it is an error.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/hashicorp/consul-template/child"
	"github.com/hashicorp/consul-template/config"
	dep "github.com/hashicorp/consul-template/dependency"
	"github.com/hashicorp/consul-template/manager"
	"github.com/hashicorp/consul-template/watch"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl"
	"github.com/mitchellh/mapstructure"
)

// envconsul's own default for stale Consul reads (unused by Vault queries,
// passed for the same watcher set-up).
const maxStale = 2 * time.Second

// Exit codes as envconsul's.
const (
	exitParseFlags  = 12
	exitRunnerError = 13
	exitConfigError = 14
)

// secretStanza is one `secret { ... }` of the config file.
type secretStanza struct {
	Path     string `mapstructure:"path"`
	NoPrefix *bool  `mapstructure:"no_prefix"`
}

// fileConfig is what the bench's config file says.
type fileConfig struct {
	Vault   *config.VaultConfig
	Secrets []secretStanza
}

// single turns HCL's list of one block into the block (many: merged).
func single(v interface{}) (map[string]interface{}, error) {
	switch t := v.(type) {
	case map[string]interface{}:
		return t, nil
	case []map[string]interface{}:
		out := map[string]interface{}{}
		for _, m := range t {
			for k, x := range m {
				out[k] = x
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("a block was expected, not %T", v)
}

func decode(in interface{}, out interface{}) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.StringToTimeDurationHookFunc(),
		),
		ErrorUnused: true,
		Result:      out,
	})
	if err != nil {
		return err
	}
	return d.Decode(in)
}

// loadConfig reads the `vault` stanza into consul-template's VaultConfig
// (its own mapstructure tags) and the `secret` stanzas; anything else is an
// error, as an unknown key is in envconsul.
func loadConfig(path string) (*fileConfig, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]interface{}
	if err := hcl.Decode(&raw, string(text)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fc := &fileConfig{}
	for key, value := range raw {
		switch key {
		case "vault":
			stanza, err := single(value)
			if err != nil {
				return nil, fmt.Errorf("%s: vault: %w", path, err)
			}
			for _, sub := range []string{"ssl", "retry", "transport"} {
				if v, ok := stanza[sub]; ok {
					if stanza[sub], err = single(v); err != nil {
						return nil, fmt.Errorf("%s: vault.%s: %w", path, sub, err)
					}
				}
			}
			fc.Vault = &config.VaultConfig{}
			if err := decode(stanza, fc.Vault); err != nil {
				return nil, fmt.Errorf("%s: vault: %w", path, err)
			}
		case "secret":
			list, ok := value.([]map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("%s: secret: a block was expected", path)
			}
			for _, m := range list {
				var s secretStanza
				if err := decode(m, &s); err != nil {
					return nil, fmt.Errorf("%s: secret: %w", path, err)
				}
				fc.Secrets = append(fc.Secrets, s)
			}
		default:
			return nil, fmt.Errorf("%s: %q is not supported by this re-creation", path, key)
		}
	}
	return fc, nil
}

// vaultConfig merges the file's vault stanza over the defaults, finalized
// (VAULT_TOKEN, VAULT_ADDR and the rest from the environment where unset).
func vaultConfig(fc *fileConfig) *config.VaultConfig {
	out := config.DefaultVaultConfig().Merge(fc.Vault)
	out.Finalize()
	return out
}

func clientSet(cc *config.ConsulConfig, vc *config.VaultConfig) (*dep.ClientSet, error) {
	clients := dep.NewClientSet()
	if err := clients.CreateConsulClient(&dep.CreateConsulClientInput{
		Address:                      config.StringVal(cc.Address),
		Token:                        config.StringVal(cc.Token),
		SSLEnabled:                   config.BoolVal(cc.SSL.Enabled),
		SSLVerify:                    config.BoolVal(cc.SSL.Verify),
		TransportDialKeepAlive:       config.TimeDurationVal(cc.Transport.DialKeepAlive),
		TransportDialTimeout:         config.TimeDurationVal(cc.Transport.DialTimeout),
		TransportDisableKeepAlives:   config.BoolVal(cc.Transport.DisableKeepAlives),
		TransportIdleConnTimeout:     config.TimeDurationVal(cc.Transport.IdleConnTimeout),
		TransportMaxIdleConns:        config.IntVal(cc.Transport.MaxIdleConns),
		TransportMaxIdleConnsPerHost: config.IntVal(cc.Transport.MaxIdleConnsPerHost),
		TransportTLSHandshakeTimeout: config.TimeDurationVal(cc.Transport.TLSHandshakeTimeout),
	}); err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	if err := clients.CreateVaultClient(&dep.CreateVaultClientInput{
		Address:                      config.StringVal(vc.Address),
		Namespace:                    config.StringVal(vc.Namespace),
		Token:                        config.StringVal(vc.Token),
		UnwrapToken:                  config.BoolVal(vc.UnwrapToken),
		SSLEnabled:                   config.BoolVal(vc.SSL.Enabled),
		SSLVerify:                    config.BoolVal(vc.SSL.Verify),
		SSLCert:                      config.StringVal(vc.SSL.Cert),
		SSLKey:                       config.StringVal(vc.SSL.Key),
		SSLCACert:                    config.StringVal(vc.SSL.CaCert),
		SSLCAPath:                    config.StringVal(vc.SSL.CaPath),
		ServerName:                   config.StringVal(vc.SSL.ServerName),
		TransportDialKeepAlive:       config.TimeDurationVal(vc.Transport.DialKeepAlive),
		TransportDialTimeout:         config.TimeDurationVal(vc.Transport.DialTimeout),
		TransportDisableKeepAlives:   config.BoolVal(vc.Transport.DisableKeepAlives),
		TransportIdleConnTimeout:     config.TimeDurationVal(vc.Transport.IdleConnTimeout),
		TransportMaxIdleConns:        config.IntVal(vc.Transport.MaxIdleConns),
		TransportMaxIdleConnsPerHost: config.IntVal(vc.Transport.MaxIdleConnsPerHost),
		TransportTLSHandshakeTimeout: config.TimeDurationVal(vc.Transport.TLSHandshakeTimeout),
	}); err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	return clients, nil
}

// expandPath runs a secret path through a Go template with an `env`
// function, as envconsul does (`path = "secret/{{ env \"APP\" }}"`).
func expandPath(path string) (string, error) {
	t, err := template.New("path").Funcs(template.FuncMap{
		"env": func(key string) (string, error) {
			v, ok := os.LookupEnv(key)
			if !ok {
				return "", fmt.Errorf("%s is not set (path %q)", key, path)
			}
			return v, nil
		},
	}).Parse(path)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if err := t.Execute(&out, nil); err != nil {
		return "", err
	}
	return out.String(), nil
}

var invalidKeyChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// addSecret puts one secret's string values into env under their key names.
func addSecret(env map[string]string, s secretStanza, data interface{}, logger hclog.Logger) error {
	secret, ok := data.(*dep.Secret)
	if !ok {
		return fmt.Errorf("%s: unexpected data %T", s.Path, data)
	}
	values := secret.Data
	// KV v2 nests the key/value pairs under "data" (nil once deleted).
	if inner, ok := values["data"]; ok {
		if _, hasMeta := values["metadata"]; hasMeta {
			values, _ = inner.(map[string]interface{})
		}
	}
	for key, value := range values {
		if strings.TrimSpace(key) == "" || value == nil {
			continue
		}
		str, ok := value.(string)
		if !ok {
			logger.Warn("skipping a key whose value is not a string", "key", key)
			continue
		}
		if s.NoPrefix == nil || !*s.NoPrefix {
			key = invalidKeyChars.ReplaceAllString(s.Path, "_") + "_" + key
		}
		env[key] = str
	}
	return nil
}

func run() int {
	var configPaths []string
	flags := flag.NewFlagSet("envconsul", flag.ContinueOnError)
	flags.Func("config", "config file (repeatable)", func(s string) error {
		configPaths = append(configPaths, s)
		return nil
	})
	once := flags.Bool("once", false, "fetch once, run the command once")
	logLevel := flags.String("log-level", "WARN", "log level")
	if err := flags.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitParseFlags
	}

	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "envconsul (bench re-creation)",
		Level:  hclog.LevelFromString(*logLevel),
		Output: os.Stderr,
	})
	hclog.SetDefault(logger)
	// consul-template logs through the standard log package.
	log.SetFlags(0)
	log.SetOutput(logger.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))
	fail := func(code int, err error) int {
		logger.Error(err.Error())
		return code
	}

	if !*once {
		return fail(exitConfigError, fmt.Errorf("only -once is re-created"))
	}
	command := strings.Join(flags.Args(), " ")
	if command == "" {
		return fail(exitConfigError, fmt.Errorf("No command given"))
	}
	fc := &fileConfig{}
	for _, p := range configPaths {
		c, err := loadConfig(p)
		if err != nil {
			return fail(exitConfigError, err)
		}
		if c.Vault != nil {
			fc.Vault = fc.Vault.Merge(c.Vault)
		}
		fc.Secrets = append(fc.Secrets, c.Secrets...)
	}
	vc := vaultConfig(fc)
	cc := config.DefaultConsulConfig()
	cc.Finalize()
	exec := config.DefaultExecConfig()
	exec.Finalize()

	clients, err := clientSet(cc, vc)
	if err != nil {
		return fail(exitRunnerError, err)
	}
	done := make(chan struct{})
	defer close(done)
	tokenWatcher, err := watch.VaultTokenWatcher(clients, vc, done)
	if err != nil {
		return fail(exitRunnerError, err)
	}
	dep.SetVaultDefaultLeaseDuration(config.TimeDurationVal(vc.DefaultLeaseDuration))
	if vc.LeaseRenewalThreshold != nil {
		dep.SetVaultLeaseRenewalThreshold(*vc.LeaseRenewalThreshold)
	}
	watcher := watch.NewWatcher(&watch.NewWatcherInput{
		Clients:        clients,
		MaxStale:       maxStale,
		Once:           true,
		RenewVault:     config.StringPresent(vc.Token) && config.BoolVal(vc.RenewToken),
		VaultToken:     clients.Vault().Token(),
		RetryFuncVault: watch.RetryFunc(vc.Retry.RetryFunc()),
		RetryFuncConsul: watch.RetryFunc(
			cc.Retry.RetryFunc()),
	})
	defer watcher.Stop()
	if tokenWatcher != nil {
		defer tokenWatcher.Stop()
	}

	queries := make(map[string]secretStanza, len(fc.Secrets))
	for _, s := range fc.Secrets {
		path, err := expandPath(strings.TrimPrefix(s.Path, "/"))
		if err != nil {
			return fail(exitConfigError, err)
		}
		s.Path = path
		q, err := dep.NewVaultReadQuery(path)
		if err != nil {
			return fail(exitRunnerError, err)
		}
		queries[q.String()] = s
		if _, err := watcher.Add(q); err != nil {
			return fail(exitRunnerError, err)
		}
	}
	var tokenErrs <-chan error
	if tokenWatcher != nil {
		tokenErrs = tokenWatcher.ErrCh()
	}
	received := make(map[string]interface{}, len(queries))
	for len(received) < len(queries) {
		select {
		case view := <-watcher.DataCh():
			received[view.Dependency().String()] = view.Data()
		case err := <-watcher.ErrCh():
			// An error may carry its own exit status, as envconsul checks.
			if typed, ok := err.(manager.ErrExitable); ok {
				return fail(typed.ExitStatus(), err)
			}
			return fail(exitRunnerError, err)
		case err := <-tokenErrs:
			return fail(exitRunnerError, err)
		}
	}

	env := make(map[string]string)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for id, s := range queries {
		if err := addSecret(env, s, received[id], logger); err != nil {
			return fail(exitRunnerError, err)
		}
	}
	cmdEnv := make([]string, 0, len(env))
	for k, v := range env {
		cmdEnv = append(cmdEnv, k+"="+v)
	}

	args, subshell, err := child.CommandPrep([]string{command})
	if err != nil {
		return fail(exitRunnerError, fmt.Errorf("parsing command: %w", err))
	}
	app, err := child.New(&child.NewInput{
		Stdin:        os.Stdin,
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
		Command:      args[0],
		Args:         args[1:],
		Env:          cmdEnv,
		ReloadSignal: config.SignalVal(exec.ReloadSignal),
		KillSignal:   config.SignalVal(exec.KillSignal),
		KillTimeout:  config.TimeDurationVal(exec.KillTimeout),
		Splay:        config.TimeDurationVal(exec.Splay),
		Setpgid:      subshell,
	})
	if err != nil {
		return fail(exitRunnerError, fmt.Errorf("spawning child: %w", err))
	}
	if err := app.Start(); err != nil {
		return fail(exitRunnerError, fmt.Errorf("starting child: %w", err))
	}

	// Stay the parent: pass signals on, exit with the app's code.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs)
	for {
		select {
		case code := <-app.ExitCh():
			app.Stop()
			if code != 0 {
				return fail(code, fmt.Errorf("unexpected exit from subprocess (%d)", code))
			}
			return 0
		case s := <-sigs:
			if s == syscall.SIGCHLD || s == syscall.SIGURG {
				continue
			}
			if err := app.Signal(s); err != nil {
				logger.Warn("could not signal the app", "signal", s, "error", err)
			}
		}
	}
}

func main() {
	os.Exit(run())
}
