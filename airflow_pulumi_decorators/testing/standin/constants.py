"""Constants shared by the stand-in engine modules (stdlib only, cheap to import)."""

from __future__ import annotations

#: The Pulumi CLI protocol version the stand-in was written against. The
#: ``+standin`` build tag keeps ``pulumi version`` honest while still parsing as
#: semver for the Automation API's version checks.
PROTOCOL_VERSION = "3.272.0"
STANDIN_VERSION = f"{PROTOCOL_VERSION}+standin"

BANNER = (
    "pulumi-standin: offline stand-in engine; records state only, "
    "creates no cloud resources"
)

# Pulumi's property-value signature keys (the wire format of secrets,
# resource references and output values).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
DEFAULT_ORG = "organization"

# Environment variables the stand-in reads.
ENV_BACKEND_URL = "PULUMI_BACKEND_URL"
ENV_PASSPHRASE = "PULUMI_CONFIG_PASSPHRASE"
ENV_PASSPHRASE_FILE = "PULUMI_CONFIG_PASSPHRASE_FILE"
ENV_HOME = "PULUMI_HOME"
ENV_JOURNAL = "PULUMI_STANDIN_JOURNAL"
ENV_DELAY = "PULUMI_STANDIN_DELAY_PER_RESOURCE"
#: Comma-separated resource names that "drifted in the cloud": refresh reports them as updated.
ENV_DRIFT = "PULUMI_STANDIN_DRIFT"
#: File name inside a ``--policy-pack`` folder that the stand-in evaluates (see docs/standin.md).
POLICY_FILE = "standin-policy.json"

#: Pulumi's exit codes (cmd/pulumi/cmd/exit_codes.go): a generic error, a missing stack, changes where
#: none were expected, a cancelled operation.
EXIT_ERROR = 1
EXIT_STACK_NOT_FOUND = 6
EXIT_NO_CHANGES = 7
EXIT_CANCELLED = 8

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
