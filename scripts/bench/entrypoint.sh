#!/bin/sh
# The shell entrypoint many images use, as a benchmark contestant: cert login
# and one read per KV v2 path with curl + jq, every key exported, then exec.
#   VAULT_ADDR VAULT_CACERT VAULT_CLIENT_CERT VAULT_CLIENT_KEY  the server
#   VAULT_AUTH_ROLE   the cert role;  SECRET_PATHS  comma-separated API paths
# Usage: entrypoint.sh CMD [ARGS...]
set -eu
token=$(curl -sSf --cacert "$VAULT_CACERT" --cert "$VAULT_CLIENT_CERT" \
  --key "$VAULT_CLIENT_KEY" -X POST -d "{\"name\":\"$VAULT_AUTH_ROLE\"}" \
  "$VAULT_ADDR/v1/auth/cert/login" | jq -r .auth.client_token)
paths=$SECRET_PATHS
while [ -n "$paths" ]; do
  p=${paths%%,*}
  [ "$p" = "$paths" ] && paths="" || paths=${paths#*,}
  exports=$(curl -sSf --cacert "$VAULT_CACERT" -H "X-Vault-Token: $token" \
    "$VAULT_ADDR/v1/$p" |
    jq -r '.data.data | to_entries[] | "export \(.key)=\(.value | @sh)"')
  eval "$exports"
done
unset token exports SECRET_PATHS VAULT_CLIENT_KEY
exec "$@"
