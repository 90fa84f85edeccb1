#!/usr/bin/env bash
# Real-cloud smoke test: apply examples/smoke on one real cloud with the
# provider built from this tree, check that the GPU node validated
# (validated_gpus = total_gpus), and destroy everything, also when a step
# fails or the run is interrupted. It costs real money and needs an
# account: `make smoke CLOUD=aws|gcp|azure`. Never run by `make test`.
#
#   tools/smoke/smoke.sh CLOUD
#
# Credentials come from each SDK's default chain, as for the provider. The
# script checks that one is configured before it builds or starts
# anything, and exits 2 within a second, naming what is missing, when none
# is. SMOKE_CHECK_ONLY=1 stops after that check (exit 0 when credentials
# are there). SMOKE_SIMULATE=1 (make smoke SIMULATE=1) rehearses the whole
# run offline instead: the same configuration, apply, check and destroy,
# in the simulated clouds (simulate = true), with no credentials needed.
#
# Environment: TERRAFORM (default .tools/terraform, else terraform on
# PATH); GOOGLE_CLOUD_PROJECT (gcp); AZURE_SUBSCRIPTION_ID (azure);
# SMOKE_NAME (resource name prefix, default gpufleet-smoke); SMOKE_DIR
# (work directory, default .tools/smoke-CLOUD; it keeps the state, so a
# destroy that failed can be retried with `terraform destroy` there).
set -uo pipefail

cloud=${1:-}
root=$(cd "$(dirname "$0")/../.." && pwd)

usage() {
	echo "usage: make smoke CLOUD=aws|gcp|azure" >&2
	exit 2
}
[ -n "$cloud" ] || usage
case "$cloud" in aws | gcp | azure) ;; *) usage ;; esac

# ---- credentials: what each SDK's default chain would find, offline ----

missing=()
has_file() { [ -n "${1:-}" ] && [ -s "$1" ]; }

check_aws() {
	# aws-sdk-go-v2 config.LoadDefaultConfig: environment, shared files
	# (profile), web identity, SSO (in the shared config), container and
	# instance roles (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html).
	[ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ] && return 0
	[ -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ] && [ -n "${AWS_ROLE_ARN:-}" ] && has_file "$AWS_WEB_IDENTITY_TOKEN_FILE" && return 0
	[ -n "${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ] && return 0
	local profile=${AWS_PROFILE:-default}
	local creds=${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}
	local conf=${AWS_CONFIG_FILE:-$HOME/.aws/config}
	grep -qs "^\[$profile\]" "$creds" && return 0
	grep -qsE "^\[(profile )?$profile\]" "$conf" && return 0
	# On EC2 the instance role answers; not checked offline.
	[ -n "${SMOKE_AWS_INSTANCE_ROLE:-}" ] && return 0
	missing+=("aws: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in $creds or $conf (aws configure / aws sso login), or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN; on an EC2 instance with a role set SMOKE_AWS_INSTANCE_ROLE=1")
	return 1
}

check_gcp() {
	# Application Default Credentials
	# (https://cloud.google.com/docs/authentication/application-default-credentials).
	if ! has_file "${GOOGLE_APPLICATION_CREDENTIALS:-}" &&
		! has_file "${CLOUDSDK_CONFIG:-$HOME/.config/gcloud}/application_default_credentials.json" &&
		[ -z "${SMOKE_GCP_METADATA:-}" ]; then
		if [ -n "${GOOGLE_APPLICATION_CREDENTIALS:-}" ]; then
			missing+=("gcp: GOOGLE_APPLICATION_CREDENTIALS=$GOOGLE_APPLICATION_CREDENTIALS is not a readable, non-empty file")
		else
			missing+=("gcp: no Application Default Credentials: run gcloud auth application-default login, or set GOOGLE_APPLICATION_CREDENTIALS to a credentials file; on a GCE VM with a service account set SMOKE_GCP_METADATA=1")
		fi
	fi
	[ -n "${GOOGLE_CLOUD_PROJECT:-}" ] || missing+=("gcp: GOOGLE_CLOUD_PROJECT is not set (the project to create the cluster in)")
}

check_azure() {
	# azidentity DefaultAzureCredential: environment (client secret,
	# certificate, federated token), workload identity, managed identity,
	# Azure CLI (https://learn.microsoft.com/azure/developer/go/sdk/authentication/credential-chains).
	local ok=
	if [ -n "${AZURE_CLIENT_ID:-}" ] && [ -n "${AZURE_TENANT_ID:-}" ] &&
		[ -n "${AZURE_CLIENT_SECRET:-}${AZURE_CLIENT_CERTIFICATE_PATH:-}${AZURE_FEDERATED_TOKEN_FILE:-}" ]; then
		ok=1
	elif command -v az >/dev/null 2>&1 && has_file "${AZURE_CONFIG_DIR:-$HOME/.azure}/azureProfile.json" &&
		ls "${AZURE_CONFIG_DIR:-$HOME/.azure}"/msal_token_cache.* >/dev/null 2>&1; then
		ok=1
	elif [ -n "${SMOKE_AZURE_MANAGED_IDENTITY:-}" ]; then
		ok=1
	fi
	[ -n "$ok" ] || missing+=("azure: no credentials: run az login (the Azure CLI must be on PATH), or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE); with a managed identity set SMOKE_AZURE_MANAGED_IDENTITY=1")
	[ -n "${AZURE_SUBSCRIPTION_ID:-}" ] || missing+=("azure: AZURE_SUBSCRIPTION_ID is not set (the subscription to create the cluster in)")
}

if [ -n "${SMOKE_SIMULATE:-}" ]; then
	echo "smoke: SMOKE_SIMULATE: rehearsing in the simulated clouds; no account is used"
	export GOOGLE_CLOUD_PROJECT=${GOOGLE_CLOUD_PROJECT:-gpufleet-smoke} AZURE_SUBSCRIPTION_ID=${AZURE_SUBSCRIPTION_ID:-00000000-0000-0000-0000-000000000000}
else
	"check_$cloud"
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "smoke: cannot run the $cloud smoke test; nothing was built or created:" >&2
	for m in "${missing[@]}"; do echo "  $m" >&2; done
	exit 2
fi
[ -n "${SMOKE_SIMULATE:-}" ] || echo "smoke: $cloud credentials found"
[ -z "${SMOKE_CHECK_ONLY:-}" ] || exit 0

TERRAFORM=${TERRAFORM:-$root/.tools/terraform}
[ -x "$TERRAFORM" ] || TERRAFORM=$(command -v terraform || true)
if [ -z "$TERRAFORM" ]; then
	echo "smoke: no Terraform CLI: run make terraform (or put terraform on PATH)" >&2
	exit 2
fi

# ---- the provider, built from this tree into a filesystem mirror ----

version=0.1.0
os_arch=$(go env GOOS)_$(go env GOARCH)
work=${SMOKE_DIR:-$root/.tools/smoke-$cloud${SMOKE_SIMULATE:+-simulated}}
mirror=$work/mirror/registry.terraform.io/gpufleet/gpufleet/$version/$os_arch
mkdir -p "$mirror" "$work/config"
echo "smoke: building the provider into $mirror"
(cd "$root" && CGO_ENABLED=0 go build -ldflags "-X main.version=$version" -o "$mirror/terraform-provider-gpufleet_v$version" .) || exit 1
# simulate = true serves its world in gpufleet-simkube, next to the provider.
(cd "$root" && CGO_ENABLED=0 go build -o "$mirror/gpufleet-simkube" ./cmd/gpufleet/gpufleet-simkube) || exit 1
# Its AWS backend and AWS live sources run in gpufleet-aws, next to it too.
(cd "$root" && CGO_ENABLED=0 go build -o "$mirror/gpufleet-aws" ./cmd/gpufleet/gpufleet-aws) || exit 1
printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/gpufleet/gpufleet"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/gpufleet/gpufleet"]\n  }\n}\n' "$work/mirror" >"$work/smoke.tfrc"
cp "$root"/examples/smoke/*.tf "$root"/examples/smoke/*.csv "$work/config/"

export TF_CLI_CONFIG_FILE=$work/smoke.tfrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
export TF_VAR_cloud=$cloud TF_VAR_name=${SMOKE_NAME:-gpufleet-smoke}
[ "$cloud" = gcp ] && export TF_VAR_gcp_project=$GOOGLE_CLOUD_PROJECT
[ "$cloud" = azure ] && export TF_VAR_azure_subscription_id=$AZURE_SUBSCRIPTION_ID
if [ -n "${SMOKE_SIMULATE:-}" ]; then
	# The simulated nodes run the real validator on simulated GPUs.
	echo "smoke: building gpufleet-nodecheck for the simulated nodes"
	(cd "$root" && go build -o "$work/gpufleet-nodecheck" ./cmd/gpufleet-nodecheck) || exit 1
	export TF_VAR_simulate=true GPUFLEET_SIM_NODECHECK=$work/gpufleet-nodecheck
fi
cd "$work/config" || exit 1

# ---- apply, check, and destroy whatever happens ----

destroy() {
	local rc=$?
	trap - EXIT INT TERM
	echo "smoke: destroying (terraform destroy in $work/config)"
	if ! "$TERRAFORM" destroy -auto-approve -no-color; then
		echo "smoke: DESTROY FAILED: resources named ${TF_VAR_name}* may still run and cost money;" >&2
		echo "smoke: retry with: cd $work/config && TF_CLI_CONFIG_FILE=$work/smoke.tfrc TF_VAR_cloud=$cloud $TERRAFORM destroy" >&2
		rc=1
	fi
	exit "$rc"
}
trap destroy EXIT
trap 'exit 130' INT TERM

"$TERRAFORM" init -no-color >/dev/null || exit 1
echo "smoke: terraform apply ($cloud: one T4 node, its cluster and network)"
start=$(date +%s)
"$TERRAFORM" apply -auto-approve -no-color || exit 1
total=$("$TERRAFORM" output -raw total_gpus)
validated=$("$TERRAFORM" output -raw validated_gpus)
echo "smoke: $("$TERRAFORM" output -raw instance_type): $validated of $total GPUs validated, apply took $(($(date +%s) - start)) s"
if [ "$total" -lt 1 ] || [ "$validated" != "$total" ]; then
	echo "smoke: FAILED: validated_gpus = $validated, total_gpus = $total" >&2
	exit 1
fi
echo "smoke: $cloud PASSED"
