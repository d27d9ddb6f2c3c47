"""The vendor dialects the gateway speaks: one folder each, whose `__init__.py` declares it with `dialect()`.

`known()` finds them all, so adding a dialect is adding its folder (see `registry` for what a dialect declares).
"""

import importlib
import pkgutil

from syncline_gateway.dialects.registry import Dialect


def known() -> list[Dialect]:
    """Every dialect folder's declaration, in name order."""
    folders = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)
    declared: list[Dialect] = [importlib.import_module(f"{__name__}.{name}").dialect() for name in folders]
    return declared
