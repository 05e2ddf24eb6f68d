"""The one way the project uploads to the Hugging Face Hub: a finished local folder, pushed whole.

Everything is written locally first, so a failed push (offline, no token, no rights) loses nothing and is
reported in one line.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.utils import HfHubHTTPError

from .errors import PublishError


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    repo_type: str = "model",
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload with deepart-hf",
    ignore_patterns: list[str] | None = None,
    delete_patterns: list[str] | None = None,
) -> str:
    """Create ``repo_id`` if needed and upload ``folder``; returns the repository's URL."""
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=commit_message,
            ignore_patterns=ignore_patterns,
            delete_patterns=delete_patterns,
        )
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        raise PublishError(f"push to {repo_id} failed (HTTP {status}): {_first_line(exc)}") from None
    except Exception as exc:  # offline, DNS, proxy, no token: all end the same way for the user
        raise PublishError(f"push to {repo_id} failed ({type(exc).__name__}: {_first_line(exc)})") from None
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    return str(getattr(commit, "repo_url", None) or f"https://huggingface.co/{prefix}{repo_id}")


def _first_line(error: BaseException) -> str:
    return next((line for line in str(error).splitlines() if line.strip()), "no detail")
