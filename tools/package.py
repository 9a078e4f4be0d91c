"""Packaging and deployment for AWS: `make package`, `make deploy` and `make wheelhouse` call this.

    python -m tools.package build  --stage prod [--out build/prod]
    python -m tools.package deploy --stage prod --artifacts-bucket BUCKET [--params infra/params-prod.json]
    python -m tools.package wheelhouse [--dir wheelhouse]
    python -m tools.package env    --stage prod [--out build/prod/stack.env]

`build` runs `chalice package` with infra/template.yaml merged in, then:
  - pins the template's Stage parameter to the stage it was packaged for;
  - adds precompiled bytecode to deployment.zip. Lambda's /var/task is read-only, so without
    it every cold start compiles every module it imports (1.3 s instead of 0.64 s measured:
    ../shared/stack-facts.md). The .pyc files are "unchecked-hash" (no source stat on import)
    and are made by this interpreter, so it must be the runtime's Python: chalice names the
    runtime after the Python that runs it, and this checks the two agree.
It must run under the Lambda's Python (3.13: the Makefile's .venv-package). Offline, point pip
at a wheelhouse (see README "Deploying to AWS"): PIP_NO_INDEX=1 PIP_FIND_LINKS=wheelhouse.

`deploy` uploads the package (`aws cloudformation package`) and deploys the stack
(`aws cloudformation deploy`) with the parameters in infra/params-<stage>.json. It needs the AWS
CLI v2 and credentials for the account.

`env` writes the deployed API function's settings (every FF_ variable, as CloudFormation set them)
to a file tools/ff.py reads with --env-file, so admin commands run against the real stack.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import py_compile
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
REQUIREMENTS = ROOT / "requirements.txt"
DEFAULT_REGION = "eu-west-2"
LAMBDA_ROOT = "/var/task"  # where Lambda unpacks the zip: the file names tracebacks show
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # as chalice writes: the same input gives the same zip
# Programs the functions run (not import). Chalice unpacks wheels with zipfile.extractall, which
# drops the execute bit, and Lambda's /var/task is read-only, so the mode is set here, in the zip
# entry (Lambda keeps a zip entry's Unix mode when it unpacks the code).
EXECUTABLES = ("pagefind_bin/pagefind",)
EXECUTABLE_MODE = 0o100755  # a regular file, rwxr-xr-x
PLACEHOLDER_MARKS = ("example.org", "example.com", "example.net", "123456789012")


class PackageError(Exception):
    pass


def runtime_tag() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


# ---- build -------------------------------------------------------------------------------------


def build(stage: str, out: Path) -> dict:
    """chalice package + merge template, Stage pinned, bytecode added. Returns a short summary."""
    chalice = Path(sys.executable).parent / "chalice"
    if not chalice.exists():
        raise PackageError(
            f"chalice is not installed beside {sys.executable}; run `make package` (it builds .venv-package)"
        )
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)  # chalice asks for one; the template uses ${AWS::Region}
    with tempfile.TemporaryDirectory() as tmp:
        # Handed over as JSON: chalice would otherwise write a YAML template, anchors and all.
        merge = Path(tmp) / "template.json"
        merge.write_text(json.dumps(load_template(TEMPLATE)))
        cmd = [
            str(chalice),
            "--project-dir",
            str(ROOT),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge),
            str(out),
        ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise PackageError(f"chalice package failed:\n{done.stdout}\n{done.stderr}")

    sam = out / "sam.json"
    template = json.loads(sam.read_text())
    check_runtime(template)
    pin_stage(template, stage)
    sam.write_text(json.dumps(template, indent=2) + "\n")
    added = precompile(out / "deployment.zip")
    check_executables(out / "deployment.zip")
    return {"template": str(sam), "zip": str(out / "deployment.zip"), "runtime": runtime_tag(), "pyc_added": added}


def load_template(path: Path) -> dict:
    """A CloudFormation YAML file as plain data: !Ref, !GetAtt, !Sub... become their long forms."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    return yaml.load(path.read_text(), Loader=Loader)  # nosec B506 - a SafeLoader subclass


def check_runtime(template: dict) -> None:
    """Every function's runtime is this interpreter's: the bytecode we add is only good for it."""
    want = runtime_tag()
    for name, res in template["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            got = res["Properties"].get("Runtime")
            if got != want:
                raise PackageError(f"{name} runs {got} but this is {want}: package with the Lambda's Python")


def pin_stage(template: dict, stage: str) -> None:
    """The template built for a stage deploys as that stage and no other (the console form shows it)."""
    param = template["Parameters"]["Stage"]
    if stage not in param.get("AllowedValues", [stage]):
        raise PackageError(f"infra/template.yaml does not allow the stage {stage!r}")
    param["Default"] = stage
    param["AllowedValues"] = [stage]


COMPILED_TEMPLATES = "chalicelib/templates/.compiled/"


def compile_templates(directory: Path) -> list[tuple[str, bytes]]:
    """Every template of the site, the letters and the moderation screen, compiled by this Python (it
    must be the runtime's: the code is marshalled) into `directory`, as the zip's entries
    (chalicelib/core/templating.py reads them; issue 17)."""
    from chalicelib.core import templating
    from chalicelib.edge.moderation_screen import screen_templates
    from chalicelib.mail.sender import letter_templates
    from chalicelib.site.pages import page_templates

    envs = [page_templates(), letter_templates(), screen_templates()]
    templating.compile_all(envs, directory, root=(str(ROOT), LAMBDA_ROOT))
    return [(COMPILED_TEMPLATES + p.name, p.read_bytes()) for p in sorted(directory.iterdir())]


def _checkout_made(name: str) -> bool:
    """What a checkout makes for itself inside the app's files: compiled templates, and bytecode."""
    ours = name.startswith(("chalicelib/", "__pycache__/"))
    return name.startswith(COMPILED_TEMPLATES) or (ours and "__pycache__/" in name)


def precompile(zip_path: Path) -> int:
    """Add __pycache__/<module>.<tag>.pyc (unchecked-hash) for every .py in the zip, and the compiled
    templates, in place."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        with zipfile.ZipFile(zip_path) as zin:
            # A checkout's own compiled templates (the bench's) and bytecode (its Python's, written by the
            # tests: chalice zips everything under chalicelib/) are left out: these are made afresh below.
            entries = [(i, zin.read(i)) for i in zin.infolist() if not _checkout_made(i.filename)]
        names = {info.filename for info, _ in entries}
        compiled: list[tuple[str, bytes]] = []
        failed: list[str] = []
        for info, data in entries:
            name = info.filename
            if not name.endswith(".py") or "/__pycache__/" in f"/{name}":
                continue
            src = tmp_dir / "src" / name
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(data)
            pyc_name = importlib.util.cache_from_source(name)
            if pyc_name in names:
                continue
            target = tmp_dir / "pyc" / pyc_name
            try:
                py_compile.compile(
                    str(src),
                    cfile=str(target),
                    dfile=f"{LAMBDA_ROOT}/{name}",
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                failed.append(name)
                continue
            compiled.append((pyc_name, target.read_bytes()))
        ours = [n for n in failed if n == "app.py" or n.startswith("chalicelib/")]
        if ours:
            raise PackageError(f"these do not compile: {ours}")
        if failed:
            print(
                f"note: {len(failed)} third-party files do not compile for {runtime_tag()} and are left as source: {failed[:5]}"
            )
        compiled += compile_templates(tmp_dir / "templates")
        tmp_zip = tmp_dir / "deployment.zip"
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zout:
            for info, data in entries:
                if info.filename in EXECUTABLES:
                    info.external_attr = EXECUTABLE_MODE << 16
                zout.writestr(info, data)
            for name, data in sorted(compiled):
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zout.writestr(info, data)
        shutil.move(str(tmp_zip), zip_path)
    return len(compiled)


def check_executables(zip_path: Path) -> None:
    """Each program the functions run is in the zip, executable, and built for the Lambda's arm64."""
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        for name in EXECUTABLES:
            if name not in names:
                raise PackageError(f"{name} is missing from the package (requirements.txt: pagefind[bin])")
            info = z.getinfo(name)
            if (info.external_attr >> 16) & 0o111 != 0o111:
                raise PackageError(f"{name} is not executable in the zip")
            head = z.open(info).read(20)
            if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != 183:  # EM_AARCH64
                raise PackageError(f"{name} is not an arm64 (aarch64) program: package for the Lambda's architecture")


# ---- deploy ------------------------------------------------------------------------------------


def load_params(path: Path) -> dict[str, str]:
    """CloudFormation's parameter file shape: [{"ParameterKey": ..., "ParameterValue": ...}, ...]."""
    if not path.exists():
        raise PackageError(f"no parameter file {path}: copy infra/params-prod.json and fill it in")
    entries = json.loads(path.read_text())
    params = {e["ParameterKey"]: str(e["ParameterValue"]) for e in entries}
    placeholders = [k for k, v in params.items() if any(mark in v for mark in PLACEHOLDER_MARKS)]
    if placeholders:
        raise PackageError(f"{path} still has example values for {placeholders}: put in your own first")
    return params


def deploy(stage: str, build_dir: Path, artifacts_bucket: str, params_path: Path, stack_name: str) -> None:
    aws = shutil.which("aws")
    if not aws:
        raise PackageError("the AWS CLI (v2) is needed to deploy: https://docs.aws.amazon.com/cli/")
    sam = build_dir / "sam.json"
    if not sam.exists():
        raise PackageError(f"{sam} is missing: run `make package STAGE={stage}` first")
    params = load_params(params_path)
    packaged = build_dir / "packaged.yaml"
    run(
        [
            aws,
            "cloudformation",
            "package",
            "--template-file",
            str(sam),
            "--s3-bucket",
            artifacts_bucket,
            "--s3-prefix",
            f"feedforward/{stage}",
            "--output-template-file",
            str(packaged),
        ]
    )
    run(
        [
            aws,
            "cloudformation",
            "deploy",
            "--template-file",
            str(packaged),
            "--stack-name",
            stack_name,
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--no-fail-on-empty-changeset",
            "--tags",
            "app=feedforward",
            f"stage={stage}",
            "--parameter-overrides",
            f"Stage={stage}",
            *[f"{k}={v}" for k, v in params.items()],
        ]
    )
    run(
        [
            aws,
            "cloudformation",
            "describe-stacks",
            "--stack-name",
            stack_name,
            "--query",
            "Stacks[0].Outputs",
            "--output",
            "table",
        ]
    )


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd[:4]), "...", flush=True)
    if subprocess.run(cmd).returncode != 0:
        raise PackageError(f"{' '.join(cmd[:3])} failed")


# ---- the deployed settings, for tools/ff.py ----------------------------------------------------


def env_file_text(variables: dict[str, str], region: str, stack_name: str) -> str:
    """`export KEY=VALUE` lines, as local/run.py writes them and tools/ff.py --env-file reads them."""
    lines = [
        f"# The settings of the stack {stack_name}, written by `python -m tools.package env`.",
        "# Use with: python -m tools.ff --env-file FILE COMMAND (AWS credentials come from your profile).",
    ]
    env = {k: v for k, v in variables.items() if k.startswith("FF_")} | {"AWS_REGION": region}
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
    return "\n".join(lines) + "\n"


def stack_env(stage: str, out: Path, stack_name: str) -> None:
    aws = shutil.which("aws")
    if not aws:
        raise PackageError("the AWS CLI (v2) is needed: https://docs.aws.amazon.com/cli/")

    def ask(*args: str) -> str:
        done = subprocess.run([aws, *args, "--output", "text"], capture_output=True, text=True)
        if done.returncode != 0:
            raise PackageError(done.stderr.strip())
        return done.stdout.strip()

    function = ask(
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        stack_name,
        "--query",
        "Stacks[0].Outputs[?OutputKey=='APIHandlerName'].OutputValue",
    )
    configured = subprocess.run([aws, "configure", "get", "region"], capture_output=True, text=True).stdout.strip()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or configured or DEFAULT_REGION
    done = subprocess.run(
        [
            aws,
            "lambda",
            "get-function-configuration",
            "--function-name",
            function,
            "--query",
            "Environment.Variables",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PackageError(done.stderr.strip())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(env_file_text(json.loads(done.stdout), region, stack_name))
    print(f"wrote {out}: python -m tools.ff --env-file {out} COMMAND")


# ---- wheelhouse --------------------------------------------------------------------------------


def wheelhouse(directory: Path, package_requirements: Path) -> None:
    """Every wheel `make package` needs, for a later run with no index: this venv's own (chalice
    and what app.py imports, for this machine, and uv, which installs them) and the Lambda's
    (manylinux aarch64, this Python)."""
    directory.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(directory)]
    run([*pip, "-r", str(package_requirements), "-r", str(ROOT / "infra" / "requirements-uv.txt"), "pip<26.3"])
    minor = sys.version_info.minor
    platforms = [f"manylinux_2_{m}_aarch64" for m in range(17, 35)] + ["manylinux2014_aarch64"]
    run(
        [
            *pip,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            f"3.{minor}",
            "--abi",
            f"cp3{minor}",
            "--abi",
            "abi3",
            "--abi",
            "none",
            *[a for p in platforms for a in ("--platform", p)],
            "--platform",
            "any",
            "-r",
            str(REQUIREMENTS),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.package", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="chalice package with infra/ merged, bytecode precompiled")
    b.add_argument("--stage", required=True, choices=["dev", "prod"])
    b.add_argument("--out", type=Path)
    d = sub.add_parser("deploy", help="upload the package and deploy the stack")
    d.add_argument("--stage", required=True, choices=["dev", "prod"])
    d.add_argument("--artifacts-bucket", required=True)
    d.add_argument("--params", type=Path)
    d.add_argument("--stack-name")
    w = sub.add_parser("wheelhouse", help="download every wheel packaging needs, for offline use")
    w.add_argument("--dir", type=Path, default=ROOT / "wheelhouse")
    w.add_argument("--requirements", type=Path, default=ROOT / "infra" / "requirements-package.txt")
    e = sub.add_parser("env", help="write the deployed stack's settings for tools/ff.py --env-file")
    e.add_argument("--stage", required=True, choices=["dev", "prod"])
    e.add_argument("--out", type=Path)
    e.add_argument("--stack-name")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            summary = build(args.stage, args.out or ROOT / "build" / args.stage)
            print(json.dumps(summary, indent=2))
        elif args.command == "deploy":
            deploy(
                args.stage,
                ROOT / "build" / args.stage,
                args.artifacts_bucket,
                args.params or ROOT / "infra" / f"params-{args.stage}.json",
                args.stack_name or f"feedforward-{args.stage}",
            )
        elif args.command == "env":
            stack_env(
                args.stage,
                args.out or ROOT / "build" / args.stage / "stack.env",
                args.stack_name or f"feedforward-{args.stage}",
            )
        else:
            wheelhouse(args.dir, args.requirements)
    except PackageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
