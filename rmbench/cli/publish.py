"""``rmbench publish``: a run directory or a leaderboard file to a Hub dataset repository (docs/publishing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rmbench.cli.output import console
from rmbench.errors import UserError

NO_TOKEN = ("no Hugging Face token: pass --token, set HF_TOKEN or run 'hf auth login' "
            "(or use --dry-run DIR to write the files without uploading)")


def publish(
    target: Annotated[Path, typer.Argument(
        help="A run directory (run.json, items.jsonl, summary.json, report.md) or a leaderboard JSON file.")],
    repo_id: Annotated[str, typer.Option("--repo-id", help="Dataset repository on the Hub, OWNER/NAME.")],
    dry_run: Annotated[Optional[Path], typer.Option(
        "--dry-run", help="Write the files that would be uploaded into this folder; no network.")] = None,
    token: Annotated[Optional[str], typer.Option(
        "--token", help="Hub token (default: HF_TOKEN or the stored 'hf auth login' token).")] = None,
    model_repo: Annotated[Optional[str], typer.Option(
        "--model-repo", help="Model repository OWNER/MODEL: open a pull request adding the run's "
        "evaluation results (model-index) to its card.")] = None,
    pr: Annotated[bool, typer.Option(
        "--pr", help="Upload as a pull request to the dataset repository (submitting to a results repository).")]
    = False,
    runs_root: Annotated[Optional[Path], typer.Option(
        "--runs-root", help="For a leaderboard: the folder its entries' run_dir paths are relative to.")] = None,
) -> None:
    """Publish per-item results (parquet), summary, manifest and a dataset card to a Hub dataset repository,
    and the run's model-card evaluation results (model-index.yaml); --dry-run writes them to a folder."""
    from rmbench.publish.bundle import build_bundle
    from rmbench.publish.hub import check_repo_id, resolve_token
    from rmbench.publish.target import RunTarget, load_target

    check_repo_id(repo_id)
    if model_repo is not None:
        check_repo_id(model_repo, "--model-repo")
    hub_token = None if dry_run is not None else resolve_token(token)
    if dry_run is None and not hub_token:
        raise UserError(NO_TOKEN)
    loaded = load_target(target, runs_root)
    if model_repo is not None and not isinstance(loaded, RunTarget):
        raise UserError(f"{target}: --model-repo needs a run directory (a leaderboard holds several models)",
                        hint="publish the model's run directory with --model-repo")
    bundle = build_bundle(loaded, repo_id, model_repo)
    err = console(stderr=True)
    if dry_run is not None:
        _write_dry_run(dry_run, bundle.files)
        return
    from rmbench.publish.hub import upload

    assert hub_token is not None
    done = upload(bundle, repo_id, hub_token, pr=pr, model_repo=model_repo,
                  message=f"rmbench publish {target.name}")
    err.print(f"[green]uploaded[/green] {len(bundle.files)} files to {done.dataset_url}", highlight=False)
    if done.model_card_url:
        err.print(f"[green]model card pull request[/green] {done.model_card_url}", highlight=False)


def _write_dry_run(folder: Path, files: dict[str, bytes]) -> None:
    from rmbench.publish.folder import write_folder

    write_folder(folder, files)
    out = console()
    for rel in sorted(files):
        out.print(f"{rel}\t{len(files[rel])} bytes", highlight=False)
    console(stderr=True).print(f"[green]dry run[/green]: wrote {len(files)} files to {folder} (nothing uploaded)",
                               highlight=False)
