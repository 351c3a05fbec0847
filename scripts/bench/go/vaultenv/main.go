// Command vaultenv is the start-up bench's stand-in for bank-vaults vault-env.
//
// The Go module proxy refuses github.com/bank-vaults/vault-env, so the bench
// cannot `go install` it on a fresh machine. vault-env's work is done by the
// library github.com/bank-vaults/vault-sdk, which the proxy serves; this
// program drives that library along the path vault-env's main takes in its
// default (non-daemon) mode, for the configuration the bench uses
// (scripts/bench/contestants.ts):
//
//  1. vault.NewClientWithOptions(ClientLogger, ClientRole(VAULT_ROLE),
//     ClientAuthPath(VAULT_PATH), ClientAuthMethod(VAULT_AUTH_METHOD)):
//     the client reads VAULT_ADDR, VAULT_CACERT, VAULT_CLIENT_CERT/KEY and
//     VAULT_JWT_FILE itself and logs in (auth/<VAULT_PATH>/login).
//  2. injector.NewSecretInjector(Config{...}, client, nil, logger) and
//     InjectSecretsFromVault(environ, inject): every variable whose value is
//     `vault:<path>#<key>` is read from Vault (one read per path, cached),
//     every other variable is passed through.
//  3. syscall.Exec of the app with the resulting environment, the VAULT_*
//     variables left out, so nothing of this process stays resident.
//
// Not covered (the bench does not use them): VAULT_TOKEN_FILE and
// VAULT_TOKEN=vault:login, VAULT_ENV_FROM_PATH, VAULT_REVOKE_TOKEN,
// VAULT_ENV_DELAY, daemon mode, the syslog and JSON log outputs. Logs go as
// vault-env's do: level from VAULT_LOG_LEVEL, warnings and errors to stderr,
// the rest to stdout.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"

	injector "github.com/bank-vaults/vault-sdk/injector/vault"
	"github.com/bank-vaults/vault-sdk/vault"
	slogmulti "github.com/samber/slog-multi"
)

// sdkLogger hands vault-sdk's leveled, field-map log calls to slog.
type sdkLogger struct{ l *slog.Logger }

func attrs(fields []map[string]interface{}) []any {
	var out []any
	for _, f := range fields {
		for k, v := range f {
			out = append(out, slog.Any(k, v))
		}
	}
	return out
}

func (s sdkLogger) Trace(msg string, f ...map[string]interface{}) { s.l.Debug(msg, attrs(f)...) }
func (s sdkLogger) Debug(msg string, f ...map[string]interface{}) { s.l.Debug(msg, attrs(f)...) }
func (s sdkLogger) Info(msg string, f ...map[string]interface{})  { s.l.Info(msg, attrs(f)...) }
func (s sdkLogger) Warn(msg string, f ...map[string]interface{})  { s.l.Warn(msg, attrs(f)...) }
func (s sdkLogger) Error(msg string, f ...map[string]interface{}) { s.l.Error(msg, attrs(f)...) }

func fail(logger *slog.Logger, format string, args ...any) {
	logger.Error(fmt.Sprintf(format, args...))
	os.Exit(1)
}

func main() {
	var level slog.Level
	if level.UnmarshalText([]byte(os.Getenv("VAULT_LOG_LEVEL"))) != nil {
		level = slog.LevelInfo
	}
	// As vault-env: warnings and errors to stderr, the rest to stdout.
	opts := &slog.HandlerOptions{Level: level}
	severe := func(_ context.Context, r slog.Record) bool { return r.Level >= slog.LevelWarn }
	mild := func(_ context.Context, r slog.Record) bool { return r.Level < slog.LevelWarn }
	logger := slog.New(slogmulti.Router().
		Add(slog.NewTextHandler(os.Stderr, opts), severe).
		Add(slog.NewTextHandler(os.Stdout, opts), mild).
		Handler()).
		With(slog.String("app", "vault-env (bench re-creation)"))

	if len(os.Args) < 2 {
		fail(logger, "no command given")
	}
	argv := os.Args[1:]
	binary, err := exec.LookPath(argv[0])
	if err != nil {
		fail(logger, "binary not found: %s", argv[0])
	}

	client, err := vault.NewClientWithOptions(
		vault.ClientLogger(sdkLogger{logger}),
		vault.ClientRole(os.Getenv("VAULT_ROLE")),
		vault.ClientAuthPath(os.Getenv("VAULT_PATH")),
		vault.ClientAuthMethod(os.Getenv("VAULT_AUTH_METHOD")),
	)
	if err != nil {
		fail(logger, "failed to create vault client: %v", err)
	}

	environ := make(map[string]string)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			environ[k] = v
		}
	}

	secrets := injector.NewSecretInjector(injector.Config{
		IgnoreMissingSecrets: os.Getenv("VAULT_IGNORE_MISSING_SECRETS") == "true",
	}, client, nil, logger)
	var env []string
	// The client's own settings stay out of the app's environment.
	err = secrets.InjectSecretsFromVault(environ, func(key, value string) {
		if !strings.HasPrefix(key, "VAULT_") {
			env = append(env, key+"="+value)
		}
	})
	if err != nil {
		fail(logger, "failed to inject secrets from vault: %v", err)
	}

	logger.Info("spawning process", slog.String("entrypoint", fmt.Sprint(argv)))
	err = syscall.Exec(binary, argv, env)
	fail(logger, "failed to exec process: %v", err)
}
