"""What the azure-cli wheel holds, read statically: help entries, AAZ classes, registrations.

The rules (which definition wins, which files are read) are specified in
:mod:`hardneg_kit.build.azure_cli`; this module reads the sources they apply to:

* :func:`read_wheel`: the module sources of the wheel (``_help.py`` files, files with
  ``@register_command`` classes, ``commands.py`` files), its licence and its provenance;
* :func:`merge_helps`: ``helps[<command>] = <yaml>`` entries (:func:`extract_helps`), in the
  CLI's load order (:func:`load_order`), parsed by :func:`parse_help_yaml`;
* :func:`merge_aaz`: AAZ command classes (:func:`extract_aaz`, :func:`parse_aaz_doc`) of the
  default profile (:func:`is_aaz_path`);
* :func:`plain_commands`: commands a ``commands.py`` registers as plain commands.

Standard library only, but for PyYAML in :func:`parse_help_yaml` (the build environment has it).

Example:
    >>> clean("Create a\\n  managed disk. ")
    'Create a managed disk.'
"""

from __future__ import annotations

import ast
import hashlib
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

HELP_GLOB_PREFIX = "azure/cli/command_modules/"
HELP_FILE_NAME = "_help.py"
AAZ_DECORATOR = "register_command"
AAZ_EXAMPLE_FLAG = ":example:"
COMMANDS_FILE_NAME = "commands.py"
_SPACE = re.compile(r"\s+")


def clean(value: Any) -> str:
    """Turn a YAML value into one line of text: ``"A\\n  b "`` -> ``"A b"``; ``None`` -> ``""``.

    >>> clean("Create a\\n  managed disk. ")
    'Create a managed disk.'
    >>> clean(None)
    ''
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return _SPACE.sub(" ", value).strip()


def extract_helps(source: str, filename: str = "<help>") -> tuple[list[tuple[str, str]], int]:
    """Read ``helps[<key>] = <text>`` assignments statically, in line order.

    Returns the ``(key, yaml_text)`` pairs whose key and value are literal strings (assignments
    nested in ``if``/``for`` blocks included), and the number skipped because they are computed
    at run time.

    >>> extract_helps("if 1:\\n    helps['b'] = 'x'\\nhelps['a'] = 'y'\\nhelps[k] = 'z'\\n")
    ([('b', 'x'), ('a', 'y')], 1)
    """
    tree = ast.parse(source, filename=filename)
    items: list[tuple[int, int, str | None, str | None]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == "helps"
        ):
            continue
        try:
            key = ast.literal_eval(target.slice)
            value = ast.literal_eval(node.value)
        except ValueError:
            key = value = None
        ok = isinstance(key, str) and isinstance(value, str)
        items.append((node.lineno, node.col_offset, key if ok else None, value if ok else None))
    items.sort(key=lambda t: (t[0], t[1]))
    found = [(clean(k), v) for _, _, k, v in items if k is not None and v is not None]
    return found, sum(1 for it in items if it[2] is None)


def load_order(paths: Iterable[str]) -> list[str]:
    """Order help files as the CLI loads them: deeper files first, then by path.

    A module's ``_help.py`` imports ``generated/_help.py`` and then ``manual/_help.py`` before
    its own assignments, so the later file in this order wins for a duplicated key.

    >>> load_order(["m/_help.py", "m/manual/_help.py", "m/generated/_help.py"])
    ['m/generated/_help.py', 'm/manual/_help.py', 'm/_help.py']
    """
    return sorted(paths, key=lambda p: (-len(PurePosixPath(p).parts), p))


def parse_help_yaml(text: str) -> dict | None:
    """Parse one help text; ``None`` where it is not a YAML mapping.

    >>> parse_help_yaml("type: command\\nshort-summary: Create a VM.")["short-summary"]
    'Create a VM.'
    """
    import yaml  # only the build environment needs PyYAML

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def merge_helps(files: Mapping[str, str], counts: Counter) -> dict[str, str]:
    """Collect help texts from ``{path: source}``; later definitions (in load order) win."""
    helps: dict[str, str] = {}
    for path in load_order(files):
        found, skipped = extract_helps(files[path], path)
        counts["help_entries_dynamic_skipped"] += skipped
        _merge(helps, found, counts, "help_entries_static", "help_entries_redefined")
    return helps


def _merge(into: dict, found: list, counts: Counter, seen: str, redefined: str) -> None:
    """Put each ``(key, value)`` of ``found`` into ``into`` (the later one wins), counting
    every entry under ``seen`` and every key defined before under ``redefined``."""
    for key, value in found:
        counts[seen] += 1
        if key in into:
            counts[redefined] += 1
        into[key] = value


def _decorator_name(node: ast.expr) -> str | None:
    """``register_command`` for ``@register_command(...)`` / ``@aaz.register_command(...)``."""
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def parse_aaz_doc(doc: str | None) -> dict[str, Any]:
    """A help mapping from an AAZ class docstring, as ``azure.cli.core.aaz._parse_cls_doc`` does.

    >>> h = parse_aaz_doc("Create a VNet.\\n  More.\\n  :example: Make one\\n    az vnet create")
    >>> h["short-summary"], h["long-summary"], h["examples"]
    ('Create a VNet.', 'More.', [{'name': 'Make one', 'text': 'az vnet create'}])
    """
    lines = [line.strip() for line in (doc or "").splitlines() if line.strip()]
    help_: dict[str, Any] = {"type": "command", "short-summary": None, "long-summary": None}
    examples: list[dict] = []
    if lines and not lines[0].startswith(AAZ_EXAMPLE_FLAG):
        help_["short-summary"] = lines[0]
        idx = 1
        while idx < len(lines) and not lines[idx].startswith(AAZ_EXAMPLE_FLAG):
            idx += 1
        help_["long-summary"] = "\n".join(lines[1:idx]) or None
        while idx < len(lines):
            name = lines[idx][len(AAZ_EXAMPLE_FLAG):].strip()
            end = idx + 1
            while end < len(lines) and not lines[end].startswith(AAZ_EXAMPLE_FLAG):
                end += 1
            text = "\n".join(lines[idx + 1:end])
            if text:  # the CLI drops examples without command lines
                examples.append({"name": name, "text": text})
            idx = end
    help_["examples"] = examples
    return help_


def extract_aaz(source: str, filename: str = "<aaz>") -> tuple[list[tuple[str, dict]], int]:
    """Read ``@register_command("<name>", ...)`` classes statically, in line order.

    Returns ``(command, help mapping)`` pairs (see :func:`parse_aaz_doc`) and the number of
    decorated classes whose name is not a literal string. Keyword arguments (``is_preview``,
    ``confirmation``, ...) do not change the help text and are ignored.

    >>> src = "@register_command('g c', is_preview=True)\\nclass C:\\n    'Do it.'\\n"
    >>> found, skipped = extract_aaz(src)
    >>> [(name, h["short-summary"], h["examples"]) for name, h in found], skipped
    ([('g c', 'Do it.', [])], 0)
    """
    tree = ast.parse(source, filename=filename)
    found: list[tuple[int, str, dict]] = []
    skipped = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for dec in node.decorator_list:
            if not (isinstance(dec, ast.Call) and _decorator_name(dec) == AAZ_DECORATOR):
                continue
            arg = dec.args[0] if dec.args else next(
                (k.value for k in dec.keywords if k.arg == "name"), None
            )
            try:
                name = ast.literal_eval(arg) if arg is not None else None
            except ValueError:
                name = None
            if not isinstance(name, str):
                skipped += 1
                continue
            doc = ast.get_docstring(node, clean=False)
            found.append((node.lineno, clean(name), parse_aaz_doc(doc)))
    found.sort(key=lambda t: t[0])
    return [(name, help_) for _, name, help_ in found], skipped


def is_aaz_path(path: str) -> bool:
    """Whether a module file may hold AAZ commands of the default profile.

    >>> [is_aaz_path(p) for p in ("m/aaz/latest/x/_create.py", "m/aaz/profile_2019/x/_c.py",
    ...                           "m/_legacy/aaz/latest/x/_c.py", "m/operations/x.py")]
    [True, False, False, True]
    """
    parts = PurePosixPath(path).parts
    if "_legacy" in parts:
        return False
    if "aaz" in parts:
        i = parts.index("aaz")
        return len(parts) > i + 1 and parts[i + 1] == "latest"
    return True


def aaz_rank(path: str) -> tuple[int, str]:
    """Sort key: ``aaz/latest`` classes first, re-registered subclasses elsewhere later (win)."""
    return (0 if "aaz" in PurePosixPath(path).parts else 1, path)


def merge_aaz(files: Mapping[str, str], counts: Counter) -> dict[str, dict]:
    """Collect AAZ command helps from ``{path: source}``; later definitions (by rank) win."""
    commands: dict[str, dict] = {}
    for path in sorted(files, key=aaz_rank):
        if not is_aaz_path(path):
            continue
        found, skipped = extract_aaz(files[path], path)
        if not found and not skipped:
            continue
        counts["aaz_files"] += 1
        counts["aaz_classes_dynamic_skipped"] += skipped
        _merge(commands, found, counts, "aaz_classes", "aaz_commands_redefined")
    counts["aaz_commands"] = len(commands)
    return commands


def plain_commands(source: str, filename: str = "<commands>") -> set[str]:
    """Commands registered in a ``commands.py`` as ``g.<...>command('<verb>', ...)`` inside
    ``with self.command_group('<group>', ...) as g:`` (literal names only).

    >>> sorted(plain_commands("with self.command_group('a b') as g:\\n    g.custom_command('c')"))
    ['a b c']
    """
    tree = ast.parse(source, filename=filename)
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.With):
            continue
        for item in node.items:
            group = _command_group(item)
            if group is not None:
                var = item.optional_vars.id
                names |= {clean(f"{group} {verb}") for verb in _registered_verbs(node, var)}
    return names


def _command_group(item: ast.withitem) -> str | None:
    """``'<group>'`` of ``with <...>.command_group('<group>', ...) as g``, else None."""
    call = item.context_expr
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "command_group"
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
        and isinstance(item.optional_vars, ast.Name)
    ):
        return call.args[0].value
    return None


def _registered_verbs(node: ast.With, var: str) -> list[str]:
    """The literal first arguments of ``<var>.<...>command('<verb>', ...)`` calls in ``node``."""
    return [
        sub.args[0].value
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and isinstance(sub.func.value, ast.Name)
        and sub.func.value.id == var
        and sub.func.attr.endswith("command")
        and sub.args
        and isinstance(sub.args[0], ast.Constant)
        and isinstance(sub.args[0].value, str)
    ]


def read_wheel(path: Path) -> tuple[dict[str, dict[str, str]], str, dict[str, str]]:
    """The module sources, the licence text and provenance (name, version, sha256).

    Sources are ``{"help": {path: text}, "aaz": {...}, "commands": {...}}``: the ``_help.py``
    files, the ``.py`` files with ``register_command(`` in them, and the ``commands.py`` files.
    """
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        sources = _wheel_sources(zf, names)
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta_name).decode("utf-8")
        lic_names = sorted(
            n for n in names if ".dist-info/" in n and PurePosixPath(n).name.startswith("LICENSE")
        )
        licence = zf.read(lic_names[0]).decode("utf-8") if lic_names else ""
    fields = dict(
        line.split(": ", 1) for line in metadata.split("\n\n", 1)[0].splitlines() if ": " in line
    )
    provenance = {
        "package": fields.get("Name", ""),
        "version": fields.get("Version", ""),
        "license": fields.get("License", ""),
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return sources, licence, provenance


def _wheel_sources(zf: zipfile.ZipFile, names: list[str]) -> dict[str, dict[str, str]]:
    """``{"help": ..., "aaz": ..., "commands": ...}`` of the command modules, by path."""
    sources: dict[str, dict[str, str]] = {"help": {}, "aaz": {}, "commands": {}}
    for n in sorted(names):
        if not (n.startswith(HELP_GLOB_PREFIX) and n.endswith(".py")):
            continue
        text = zf.read(n).decode("utf-8-sig")
        base = PurePosixPath(n).name
        if base == HELP_FILE_NAME:
            sources["help"][n] = text
        elif base == COMMANDS_FILE_NAME:
            sources["commands"][n] = text
        if AAZ_DECORATOR + "(" in text and base != HELP_FILE_NAME:
            sources["aaz"][n] = text
    return sources
