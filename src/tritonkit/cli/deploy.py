"""push and deploy: a repository to object storage, and Kubernetes/KServe manifests that serve it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tritonkit.cli._app import RepoOption, app, echo

if TYPE_CHECKING:
    from tritonkit.deploy.push import PushEvent


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1000  # type: ignore[assignment]
    return f"{n} B"


class _Progress:
    """Prints one line per finished step, and quarter marks of large files (stderr)."""

    def __init__(self) -> None:
        self.sent = 0
        self.mark = 0

    def __call__(self, event: PushEvent) -> None:
        step = event.step
        if event.kind == "start":
            self.sent, self.mark = 0, 0
        elif event.kind == "bytes" and step.size >= 32 * 1024 * 1024:
            self.sent += event.sent
            quarter = self.sent * 4 // max(step.size, 1)
            if quarter > self.mark and quarter < 4:
                self.mark = quarter
                echo(f"  {step.relative}: {quarter * 25}%", err=True)
        elif event.kind == "done":
            echo(f"  {step.action:<6} {step.relative} ({_size(step.size)})", err=True)


@app.command()
def push(
    targets: Annotated[
        list[str],
        typer.Argument(help="[REPO] URI: the local repository (default: --repo) and where to push it."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would change; upload nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Allow overwriting a version the remote serves (not safe while served)."
        ),
    ] = False,
    no_artifacts: Annotated[
        bool, typer.Option("--no-artifacts", help="Validate configs and layout only before pushing.")
    ] = False,
    repo: RepoOption = None,
) -> None:
    """Upload a repository to object storage (s3://[host:port/]bucket/prefix): validated first, only changed
    files, each new version published by its config last. Credentials: AWS_* variables or AWS_PROFILE."""
    from tritonkit.deploy.push import prepare_push, run_push
    from tritonkit.errors import UsageError
    from tritonkit.repository.project import resolve_repository

    if len(targets) not in (1, 2):
        raise UsageError(
            "push takes [REPO] URI", hint="e.g. tritonkit push model_repository s3://bucket/models"
        )
    if len(targets) == 2 and repo is not None:
        raise UsageError(f"two repositories given: {targets[0]} and --repo {repo}", hint="give only one")
    root = resolve_repository(Path(targets[0]) if len(targets) == 2 else repo)
    plan, store = prepare_push(root, targets[-1], artifacts=not no_artifacts, force=force)
    if dry_run:
        for step in plan.steps:
            echo(f"{step.action:<6} {step.relative} ({_size(step.size)}): {step.reason}")
        echo(
            f"dry run: {len(plan.steps)} upload(s), {_size(plan.upload_bytes)}; "
            f"{plan.unchanged} unchanged ({plan.uri})"
        )
        return
    result = run_push(plan, store, on_event=_Progress())
    echo(
        f"pushed {root} to {plan.uri}: {result.uploaded} upload(s), {_size(result.uploaded_bytes)}, "
        f"{plan.unchanged} unchanged, {result.seconds:.1f} s"
    )


@app.command()
def deploy(
    target: Annotated[
        str, typer.Argument(help="k8s (Deployment, Service, HPA) or kserve (InferenceService).")
    ],
    uri: Annotated[
        str, typer.Argument(help="Where the repository was pushed: s3://[host:port/]bucket/prefix.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the manifests (kustomize layout).")],
    sets: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional at runtime on 3.10
        typer.Option(
            "--set", help="key=value override, repeatable (e.g. max_replicas=8, gpus=1, namespace=ml)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files in --out.")] = False,
    repo: RepoOption = None,
) -> None:
    """Write Kubernetes or KServe manifests serving the repository pushed to URI (sized from --repo)."""
    from tritonkit.deploy.manifests import DeployOptions, apply_overrides, summarize_repository
    from tritonkit.deploy.render import plan_deploy, write_deploy
    from tritonkit.errors import RepositoryError
    from tritonkit.repository.project import resolve_repository

    root = resolve_repository(repo)
    if not root.is_dir():
        raise RepositoryError(
            f"repository {root} is not a folder", hint="give the pushed repository with --repo"
        )
    from tritonkit.repository.project import load_project

    # the image follows the release the project targets (tritonkit.yaml `target: {triton: ...}`)
    wanted = load_project(root).target
    release = wanted.get("triton") if isinstance(wanted, dict) else None
    options = apply_overrides(DeployOptions(release=str(release or "")), list(sets or []))
    plan = plan_deploy(target, uri, options, summarize_repository(root))
    for path in write_deploy(plan, out, force=force):
        echo(f"wrote {path}")
    secret = "s3.env (from s3.env.example)" if options.create_secret else f"the Secret {options.secret}"
    echo(f"next: write {secret}, then kubectl apply -k {out}")
