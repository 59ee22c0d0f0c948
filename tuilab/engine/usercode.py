"""The user's own code: import a factory named in a preset, and call it safely.

A factory is "FILE.py:NAME" (a file, imported from its path) or
"package.module:NAME" (imported by module name). Each file is imported once per
`UserCode` (one per run), so a model factory and a loss in the same file share
one module. Every call into user code goes through `call`, which turns any
exception into a one-line `UserError` naming the factory and the exception's
last line: the user sees what went wrong in their code, never our traceback.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tuilab.errors import UserError
from tuilab.presets import factory_file


def last_line(exc: BaseException) -> str:
    """The exception as Python's traceback ends it: 'ValueError: bad shape'."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class UserCode:
    """Imports the factories of one run and calls them, each file or module once."""

    def __init__(self) -> None:
        self._modules: dict[str, ModuleType] = {}

    def load(self, spec: str, what: str) -> Callable:
        """The callable `spec` names; `what` ("model.factory") prefixes every message."""
        target, _, name = spec.rpartition(":")
        module = self._modules.get(target)
        if module is None:
            module = self._import_file(target, what) if factory_file(spec) else self._import_module(target, what)
            self._modules[target] = module
        fn = getattr(module, name, None)
        if fn is None:
            found = sorted(n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n]))
            raise UserError(f"{what} {spec}: {target} has no {name!r}; it defines "
                            f"{', '.join(found[:12]) or 'nothing callable'}")
        if not callable(fn):
            raise UserError(f"{what} {spec}: {name} is a {type(fn).__name__}, not a function or class")
        return fn

    @staticmethod
    def _import_file(path: str, what: str) -> ModuleType:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(f"{what} {path}: no such file; give FILE.py:NAME with FILE.py relative to "
                            "the preset or absolute")
        # A name of its own per file: two model.py in different folders must not collide.
        name = f"tuilab_user_{p.stem}_{hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]}"
        module_spec = importlib.util.spec_from_file_location(name, p)
        if module_spec is None or module_spec.loader is None:
            raise UserError(f"{what} {path}: cannot be imported as a Python file")
        module = importlib.util.module_from_spec(module_spec)
        # The file's folder goes first on sys.path while it runs: model.py may import its neighbours.
        folder = str(p.resolve().parent)
        sys.path.insert(0, folder)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException as e:
            sys.modules.pop(name, None)
            if isinstance(e, KeyboardInterrupt):
                raise
            raise UserError(f"{what} {path}: importing it raised {last_line(e)}") from None
        finally:
            sys.path.remove(folder)
        return module

    @staticmethod
    def _import_module(target: str, what: str) -> ModuleType:
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError as e:
            if e.name and target.startswith(e.name):
                raise UserError(f"{what} {target}: no module {e.name!r} on the Python path; give "
                                "FILE.py:NAME or an installed package.module:NAME") from None
            raise UserError(f"{what} {target}: importing it raised {last_line(e)}") from None
        except Exception as e:
            raise UserError(f"{what} {target}: importing it raised {last_line(e)}") from None


def call(fn: Callable, spec: str, what: str, *args: Any) -> Any:
    """fn(*args); an exception inside becomes a UserError naming the factory."""
    try:
        return fn(*args)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"{what} {spec}: raised {last_line(e)}") from None
