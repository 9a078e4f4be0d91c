"""Expand the merged SAM template into the plain CloudFormation that would be deployed, offline.

    .venv-iac/bin/python infra/expand.py build/prod/sam.json build/prod/expanded.json

This is what CloudFormation's AWS::Serverless transform does at deploy time (aws-sam-translator is
that transform's own code), after `aws cloudformation package` has put the zip in S3. The result
shows the resources SAM generates (event source mappings, permissions, the API stage), so
tests/infra/test_infra.py can check them and cfn-lint can validate them property by property.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Stand-ins for the values infra/params-<stage>.json gives at deploy time.
EXAMPLE_PARAMETERS = {"PublicDomain": "feedforward.example.org", "MailFromAddress": "stories@feedforward.example.org"}


class NoManagedPolicies:
    """Every function has its own role, so SAM never needs to look a managed policy up."""

    def load(self) -> dict:
        return {}


def expand(template: dict) -> dict:
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-2")  # SAM asks boto3 for a region
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `aws cloudformation package` writes in place of the local zip.
            resource["Properties"]["CodeUri"] = "s3://feedforward-artifacts/feedforward/deployment.zip"
    parameters = {name: p["Default"] for name, p in template.get("Parameters", {}).items() if "Default" in p}
    parameters.update(EXAMPLE_PARAMETERS)
    return transform(template, parameters, NoManagedPolicies())


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    expanded = expand(json.loads(Path(argv[1]).read_text()))
    Path(argv[2]).write_text(json.dumps(expanded, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
