"""The upload: the publication's folder to a Hub dataset repository, its results to a model card.

Reached only with a token (``--token``, else ``HF_TOKEN`` or the token ``hf auth login`` stored, as
:func:`huggingface_hub.get_token` finds them). The files are staged in a temporary folder by the same
writer as ``--dry-run`` and sent in one commit with :meth:`huggingface_hub.HfApi.upload_folder`:
to the repository's main branch (created as a dataset repository if absent), or as a pull request with
``pr`` (how a leaderboard is submitted to someone else's results repository; the repository must
exist). The model card's ``model-index`` is always changed through a pull request
(:func:`huggingface_hub.metadata_update` with ``create_pr=True``): its owner reviews it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from rmbench.errors import UserError
from rmbench.publish.bundle import Bundle
from rmbench.publish.folder import write_folder

_HUB_LIBRARIES = {"huggingface_hub", "httpx", "requests", "urllib3"}


@dataclass(frozen=True)
class Uploaded:
    """Where the files went: the commit or pull-request URL, and the model card's pull request if any."""

    dataset_url: str
    model_card_url: str | None = None


def resolve_token(explicit: str | None) -> str | None:
    """``explicit``, else the token ``huggingface_hub`` finds (``HF_TOKEN``, then the stored login)."""
    if explicit:
        return explicit
    from huggingface_hub import get_token

    return get_token()


def check_repo_id(repo_id: str, what: str = "--repo-id") -> str:
    """``repo_id`` when it is a valid ``OWNER/NAME`` Hub repository id; a :class:`UserError` otherwise."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UserError(f"{what} '{repo_id}': {str(exc).splitlines()[0]}") from None
    if repo_id.count("/") != 1:
        raise UserError(f"{what} '{repo_id}': expected OWNER/NAME")
    return repo_id


def upload(bundle: Bundle, repo_id: str, token: str, *, pr: bool = False, model_repo: str | None = None,
           message: str = "Upload rmbench results") -> Uploaded:
    """Upload ``bundle`` to the dataset repository ``repo_id``; with ``model_repo``, open a pull request
    adding the evaluation results to that model's card. Hub and network failures are one-line errors."""
    try:
        return _upload(bundle, repo_id, token, pr=pr, model_repo=model_repo, message=message)
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in _HUB_LIBRARIES:
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"upload to {repo_id} failed: {type(exc).__name__}: {reason}") from None


def _upload(bundle: Bundle, repo_id: str, token: str, *, pr: bool, model_repo: str | None,
            message: str) -> Uploaded:
    from huggingface_hub import HfApi, metadata_update

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="rmbench-publish-") as tmp:
        write_folder(Path(tmp), bundle.files)
        if not pr:
            api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=tmp, repo_type="dataset", commit_message=message,
                                 create_pr=pr)
    card_url = None
    if model_repo and bundle.model_card_data is not None:
        model_index = bundle.model_card_data.to_dict()["model-index"]
        card_url = metadata_update(model_repo, {"model-index": model_index}, repo_type="model", overwrite=True,
                                   create_pr=True, token=token,
                                   commit_message=f"Add rmbench evaluation results (from {repo_id})")
    return Uploaded(str(info.pr_url or info.commit_url), card_url)
