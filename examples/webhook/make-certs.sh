#!/usr/bin/env bash
# Makes the webhook's serving certificate and fills the caBundle of its
# webhook configurations. The API server authenticates the webhook by this
# certificate; the webhook needs no client certificate.
#
#   examples/webhook/make-certs.sh [--out DIR] [--namespace NS] [--service NAME]
#                                  [--ip ADDR]... [--days N] [--manifest FILE]
#
# Writes into DIR (default ./cloudtaser-webhook-certs, mode 0700):
#   ca.crt ca.key      a CA made for this webhook only (keep ca.key offline,
#                      or delete it: it is needed only to re-issue)
#   tls.crt tls.key    the serving certificate for NAME.NS.svc (and --ip)
#   secret.yaml        Secret NS/NAME-tls holding tls.crt and tls.key
#   webhook.yaml       --manifest (default: webhook.yaml beside this script)
#                      with every `caBundle: ""` filled
# then: kubectl apply -f DIR/secret.yaml -f DIR/webhook.yaml
# cert-manager instead: see cert-manager.yaml beside this script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=./cloudtaser-webhook-certs
ns=cloudtaser-system
svc=cloudtaser-webhook
days=365
manifest="$here/webhook.yaml"
ips=()
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --namespace) ns=$2; shift 2 ;;
    --service) svc=$2; shift 2 ;;
    --ip) ips+=("$2"); shift 2 ;;
    --days) days=$2; shift 2 ;;
    --manifest) manifest=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "make-certs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

umask 077
mkdir -p "$out"
cd "$out"
san="DNS:$svc,DNS:$svc.$ns,DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local"
for ip in "${ips[@]}"; do san+=",IP:$ip"; done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -days "$days" -subj "/CN=$svc CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls.key 2>/dev/null
openssl req -new -key tls.key -subj "/CN=$svc.$ns.svc" -out tls.csr
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
  "subjectAltName=$san" >tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days "$days" -extfile tls.ext -out tls.crt 2>/dev/null
rm -f tls.csr tls.ext ca.srl

b64() { base64 -w0 <"$1"; }
cat >secret.yaml <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $svc-tls
  namespace: $ns
type: kubernetes.io/tls
data:
  tls.crt: $(b64 tls.crt)
  tls.key: $(b64 tls.key)
YAML
ca=$(b64 ca.crt)
sed "s|caBundle: \"\"|caBundle: \"$ca\"|" "$manifest" >webhook.yaml
n=$(grep -c "caBundle: \"$ca\"" webhook.yaml || true)
((n > 0)) || {
  echo "make-certs.sh: no 'caBundle: \"\"' in $manifest to fill" >&2
  exit 1
}
echo "make-certs.sh: wrote $(pwd)/{ca.crt,tls.crt,tls.key,secret.yaml,webhook.yaml} ($n caBundle filled)" >&2
