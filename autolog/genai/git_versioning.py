"""One LoggedModel per git state: ``enable_git_model_versioning()``, as ``mlflow.genai``'s.

The version is the checked-out branch, commit and dirty flag (and the remote's URL): the same
state reuses its LoggedModel, a new commit or new uncommitted changes make a new one, and
every trace after the call links to it. Uncommitted changes are kept as the tag
``mlflow.source.git.diff`` (refreshed when the model is reused), so a dirty version can be
reproduced.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import TracebackType

from autolog._api import initialize_logged_model, search_logged_models, set_logged_model_tags
from autolog._versions import ActiveModel, clear_active_model, set_active_model
from autolog.utils import git_utils

__all__ = ["GitContext", "GitInfo", "disable_git_model_versioning", "enable_git_model_versioning"]

_logger = logging.getLogger("autolog")

BRANCH = "mlflow.source.git.branch"
COMMIT = "mlflow.source.git.commit"
DIRTY = "mlflow.source.git.dirty"
REPO_URL = "mlflow.source.git.repoURL"
DIFF = "mlflow.source.git.diff"


@dataclass(kw_only=True)
class GitInfo:
    branch: str
    commit: str
    dirty: bool = False
    repo_url: str | None = None
    diff: str | None = None

    @classmethod
    def from_env(cls, remote_name: str = "origin", path: str | None = None) -> GitInfo:
        """The git state of the working directory (or ``path``). Raises ``GitOperationError`` outside a
        repository, on a detached HEAD (no branch to name the version by) or without the git command."""
        where = path or os.getcwd()
        commit = git_utils.get_git_commit(where)
        if commit is None:
            raise GitOperationError(f"{where} is not in a git repository with a commit (or git is not installed)")
        branch = git_utils.get_git_branch(where)
        if branch is None:
            raise GitOperationError("HEAD is detached: no branch to name the version by")
        dirty = bool(git_utils.is_git_dirty(where))
        repo_url = git_utils.get_git_repo_url(where, remote_name)
        if repo_url is None:
            _logger.warning("autolog: no git remote named %r: the version has no repository URL", remote_name)
        return cls(branch=branch, commit=commit, dirty=dirty, repo_url=repo_url,
                   diff=git_utils.get_git_diff(where) if dirty else None)

    def to_mlflow_tags(self) -> dict[str, str]:
        tags = {BRANCH: self.branch, COMMIT: self.commit, DIRTY: str(self.dirty).lower()}
        if self.repo_url is not None:
            tags[REPO_URL] = self.repo_url
        if self.diff is not None:
            tags[DIFF] = self.diff
        return tags

    def to_search_filter_string(self) -> str:
        """The filter finding this state's LoggedModel (every tag but the diff, which is not an identity)."""
        tags = {k: v for k, v in self.to_mlflow_tags().items() if k != DIFF}
        return " AND ".join(f"tags.`{key}` = '{value.replace(chr(39), chr(39) * 2)}'" for key, value in tags.items())


class GitOperationError(Exception):
    """The git state could not be read (not a repository, detached HEAD, no git command)."""


class GitContext:
    """The git state (``info``) and the LoggedModel it made active (``active_model``); both None when the
    state could not be read (a warning says why). As a context manager, leaving it clears the active model."""

    def __init__(self, remote_name: str = "origin") -> None:
        self.info: GitInfo | None
        self.active_model: ActiveModel | None = None
        try:
            self.info = GitInfo.from_env(remote_name=remote_name)
        except GitOperationError as exc:
            _logger.warning("autolog: git model versioning is off: %s", exc)
            self.info = None
            return
        tags = self.info.to_mlflow_tags()
        found = search_logged_models(filter_string=self.info.to_search_filter_string(), max_results=1,
                                     output_format="list")
        if found:
            model_id = found[0].model_id
            set_logged_model_tags(model_id, tags)  # the diff of a dirty tree may have changed
        else:
            model_id = initialize_logged_model(tags=tags).model_id
        self.active_model = set_active_model(model_id=model_id)

    def __enter__(self) -> GitContext:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        disable_git_model_versioning()


_active: GitContext | None = None


def enable_git_model_versioning(remote_name: str = "origin") -> GitContext:
    """Make the LoggedModel of the current git state (found by its tags, else created) the active version."""
    global _active
    _active = GitContext(remote_name=remote_name)
    return _active


def disable_git_model_versioning() -> None:
    """Stop linking traces to the git state's LoggedModel (clears the active model)."""
    global _active
    _active = None
    clear_active_model()
