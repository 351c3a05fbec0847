#!/bin/sh
# The demo's app: shows that it received its secrets (length and a hash
# prefix, never the value) and where they are visible on the node.
wrapper=$PPID
for name in DB_USER DB_PASSWORD API_KEY; do
  value=$(printenv "$name")
  hash=$(printf %s "$value" | sha256sum | cut -c1-12)
  in_wrapper=$(tr '\0' '\n' </proc/"$wrapper"/environ | grep -cF -- "$value")
  in_app=$(tr '\0' '\n' </proc/$$/environ | grep -cF -- "$value")
  printf '  %-12s %3d bytes  sha256 %s...  in wrapper environ: %s  in app environ: %s\n' \
    "$name" "${#value}" "$hash" "$in_wrapper" "$in_app"
done
printf '  wrapper (pid %s) is %s, %s kB resident\n' "$wrapper" \
  "$(tr '\0' ' ' </proc/"$wrapper"/cmdline | cut -c1-60)" \
  "$(awk '/VmRSS/ {print $2}' /proc/"$wrapper"/status)"
