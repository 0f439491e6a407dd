"""The one patch/unpatch helper shared by every integration, and its safety rule.

Each integration (``openai``, ``langchain``, ``llama_index``) records its patches here,
so ``disable=True`` restores exactly what was there before, and a second enable never
wraps a wrapper. Patches are installed from ``wrapt.when_imported`` hooks, so it does
not matter whether the user imports the library before or after calling
``autolog.<library>()``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wrapt

from autolog._tracing.context import SUPPRESSED
from autolog._tracing.guard import handle_internal_errors

__all__ = ["IntegrationState", "configure_integration", "get_state"]


@dataclass
class _Patch:
    owner: Any
    attribute: str
    original: Any
    had_own_attribute: bool


@dataclass
class IntegrationState:
    """What one integration has done to the process: its patches, hooks and switches."""

    name: str
    enabled: bool = False  # patches are installed (or will be, when the library is imported)
    log_traces: bool = True
    silent: bool = False
    patches: list[_Patch] = field(default_factory=list)
    undo: list[Callable[[], None]] = field(default_factory=list)  # non-patch clean-ups (handlers...)
    hook_registered: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def recording(self) -> bool:
        """True when a patched call should be traced right now (checked on every call)."""
        return self.enabled and self.log_traces and not SUPPRESSED.get()

    def wrap(self, owner: Any, attribute: str, wrapper: Callable[..., Any]) -> None:
        """Wrap ``owner.attribute`` with a wrapt ``(wrapped, instance, args, kwargs)`` wrapper, once."""
        with self.lock:
            current = owner.__dict__.get(attribute) if hasattr(owner, "__dict__") else None
            if isinstance(current, wrapt.BaseObjectProxy) and any(
                    p.owner is owner and p.attribute == attribute for p in self.patches):
                return  # already ours
            had_own = hasattr(owner, "__dict__") and attribute in owner.__dict__
            original = owner.__dict__[attribute] if had_own else getattr(owner, attribute)
            # Positional arguments: keyword names differ between wrapt 1.x and 2.x.
            wrapt.wrap_function_wrapper(owner, attribute, wrapper)
            self.patches.append(_Patch(owner, attribute, original, had_own))

    def unpatch_all(self) -> None:
        with self.lock:
            for patch in reversed(self.patches):
                if patch.had_own_attribute:
                    setattr(patch.owner, patch.attribute, patch.original)
                else:
                    try:
                        delattr(patch.owner, patch.attribute)
                    except AttributeError:
                        pass
            self.patches.clear()
            for undo in reversed(self.undo):
                undo()
            self.undo.clear()


_STATES: dict[str, IntegrationState] = {}
_STATES_LOCK = threading.Lock()


def _new_locks_after_fork() -> None:
    # A lock held by one of the parent's threads at fork would be held forever in the child.
    global _STATES_LOCK
    _STATES_LOCK = threading.Lock()
    for state in _STATES.values():
        state.lock = threading.RLock()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def get_state(name: str) -> IntegrationState:
    with _STATES_LOCK:
        state = _STATES.get(name)
        if state is None:
            state = _STATES[name] = IntegrationState(name)
        return state


def configure_integration(name: str, module_name: str, install: Callable[[Any, IntegrationState], None],
                          log_traces: bool, disable: bool, silent: bool) -> IntegrationState:
    """Enable, re-configure or disable an integration; ``install(module, state)`` patches the library.

    ``install`` runs when ``module_name`` is imported (at once if it already is), at
    most once per enable; ``disable=True`` removes every patch and handler.
    """
    state = get_state(name)
    with state.lock:
        state.log_traces = log_traces
        state.silent = silent
        if disable:
            state.enabled = False
            state.unpatch_all()
            return state
        if state.enabled:
            return state  # already patched (or waiting for the import): never patch twice
        state.enabled = True

        def on_import(module: Any) -> None:
            with state.lock:
                if state.enabled and not state.patches and not state.undo:
                    installed = False
                    with handle_internal_errors(f"{name}.install"):  # runs inside the user's import statement
                        install(module, state)
                        installed = True
                    if not installed:
                        state.unpatch_all()

        # wrapt calls the hook at once if the module is already imported, else on import;
        # the hook stays registered, so a disable/enable cycle re-installs through it.
        if not state.hook_registered:
            wrapt.register_post_import_hook(on_import, module_name)
            state.hook_registered = True
        else:
            module = sys.modules.get(module_name)
            if module is not None:
                on_import(module)
    return state
