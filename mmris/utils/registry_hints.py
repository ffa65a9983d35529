"""'Did you mean ...?' for a mistyped ``type`` name in a config.

mmengine raises ``KeyError: 'RefCOCODatset is not in the mmris::dataset
registry. Please check whether the value of ...'`` for an unknown type. The
tools run the Runner inside :func:`registry_hints`, which re-raises such an
error with the closest registered names (difflib) appended.
"""
import difflib
import re
from contextlib import contextmanager
from typing import List, Optional, Set

from mmengine.registry import Registry

_UNKNOWN = re.compile(r'`?([\w.]+)`? is not in the ([\w.-]+)::(\w+) registry')


class UnknownTypeError(KeyError):
    """A KeyError whose message prints as text (not as a quoted repr)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _root(registry: Registry) -> Registry:
    while registry.parent is not None:
        registry = registry.parent
    return registry


def _walk(registry: Registry):
    """The registry and all its descendants."""
    yield registry
    for child in registry.children.values():
        yield from _walk(child)


def _find_registry(scope: str, name: str) -> Optional[Registry]:
    """The registry called ``name`` in ``scope`` (mmris first)."""
    from mmris import registry as mmris_registry
    candidates = [
        value for value in vars(mmris_registry).values()
        if isinstance(value, Registry) and value.name == name
    ]
    for registry in candidates:
        for node in _walk(_root(registry)):
            if node.scope == scope:
                return node
    return candidates[0] if candidates else None


def registered_names(registry: Registry) -> Set[str]:
    """Names a config in ``registry``'s scope can use as ``type``: its own
    and its parents' unprefixed, other scopes' as ``scope.Name``."""
    names: Set[str] = set()
    chain = []
    node = registry
    while node is not None:
        chain.append(node)
        names.update(node.module_dict)
        node = node.parent
    for node in _walk(_root(registry)):
        if all(node is not c for c in chain):
            names.update(f'{node.scope}.{key}' for key in node.module_dict)
    return names


def suggest_types(unknown: str, scope: str, name: str) -> List[str]:
    """Up to three registered type names close to ``unknown``."""
    registry = _find_registry(scope, name)
    if registry is None:
        return []
    names = registered_names(registry)
    lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(
        unknown.lower(), list(lower), n=3, cutoff=0.6)
    return [lower[c] for c in close]


def hint_for(err: BaseException) -> Optional[str]:
    """The 'did you mean' sentence for an unknown-type error, else None."""
    match = _UNKNOWN.search(str(err))
    if match is None:
        return None
    unknown, scope, name = match.groups()
    found = suggest_types(unknown, scope, name)
    if not found:
        return (f'No registered {name} type is close to "{unknown}"; check '
                'the spelling and that the module defining it is imported '
                '(custom_imports).')
    return f'Did you mean {" or ".join(repr(f) for f in found)}?'


@contextmanager
def registry_hints():
    """Re-raise unknown-``type`` KeyErrors with a 'did you mean' hint."""
    try:
        yield
    except KeyError as err:
        hint = hint_for(err)
        if hint is None:
            raise
        message = err.args[0] if err.args else str(err)
        raise UnknownTypeError(f'{message}\n{hint}') from err
