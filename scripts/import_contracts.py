"""Custom import-linter contract types for this repository.

Registered in pyproject.toml under ``[tool.importlinter] contract_types``; lint-imports puts the
current directory on ``sys.path``, so run it from the repository root to import this module as
``scripts.import_contracts``.

``AreaPrivateNamesContract`` ("area_private_names"): business areas of the back office must not
import each other's private helpers. An import statement in a module of area X that imports a
name starting with an underscore (``from backoffice.services.channel.items import _chunks``), or
a module with an underscore-named component, from a module of another area Y breaks it. Imports
within one area, and imports from or by modules that belong to no area, are allowed.

A module's area is the component straight after the container it lives in (one of the
``containers`` option, e.g. ``backoffice.services`` or ``backoffice.api.routes``), provided that
component is one of the ``areas`` option. Only import statements are checked, not attribute
access. The imported names are read from the importer's source with ``ast``, because grimp keeps
only the first line of a multi-line ``from x import (...)`` statement.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import TypedDict, cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils
from importlinter.domain.contract import InvalidContractOptions
from importlinter.domain.imports import ImportExpression, Module


class Violation(TypedDict):
    importer: str
    line_number: int
    name: str
    imported: str
    importer_area: str
    imported_area: str


def is_private_name(name: str) -> bool:
    """Whether a name starts with an underscore without being a dunder name like ``__init__``."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class AreaPrivateNamesContract(Contract):
    """
    Modules of one area may not import private names or private modules of another area.

    Configuration options:
        - containers:     Packages whose direct children are areas (or common modules).
        - areas:          The names of the areas; other children of the containers are common.
        - ignore_imports: ImportExpressions to leave out of the check. (Optional.)
        - unmatched_ignore_imports_alerting: "none", "warn" or "error" (the default) when an
                          ignore_imports expression matches no import.
    """

    type_name = "area_private_names"

    containers = fields.ListField(subfield=fields.ModuleField())
    areas = fields.SetField(subfield=fields.StringField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR
    )

    def validate(self) -> None:
        if not self._containers():
            raise InvalidContractOptions({"containers": "List at least one container."})
        if not self._areas():
            raise InvalidContractOptions({"areas": "List at least one area."})

    def _containers(self) -> list[str]:
        # Longest first, so that backoffice.api.routes wins over a listed backoffice.api.
        names = {module.name for module in cast(list[Module], self.containers)}
        return sorted(names, key=len, reverse=True)

    def _areas(self) -> set[str]:
        return set(cast(set[str], self.areas))

    def area_of(self, module: str) -> str | None:
        """The area a module belongs to, or None for a common module."""
        for container in self._containers():
            if module.startswith(f"{container}."):
                area = module[len(container) + 1 :].split(".")[0]
                return area if area in self._areas() else None
        return None

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=cast("list[ImportExpression] | None", self.ignore_imports),
            unmatched_alerting=cast(
                contract_utils.AlertLevel, self.unmatched_ignore_imports_alerting
            ),
        )
        warnings = list(removal.warnings)
        sources = _SourceReader()
        modules = set(graph.modules)
        violations: list[Violation] = []
        seen: set[tuple[str, int, str]] = set()

        for importer in sorted(graph.modules):
            importer_area = self.area_of(importer)
            if importer_area is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                imported_area = self.area_of(imported)
                if imported_area is None or imported_area == importer_area:
                    continue
                details = graph.get_import_details(importer=importer, imported=imported)
                for detail in details:
                    line_number = int(detail["line_number"])
                    statements = sources.statements_at(importer, line_number)
                    if statements is None:
                        statements = _parse_line(str(detail["line_contents"]))
                    if statements is None:
                        warnings.append(
                            f"Could not read the import at {importer}:{line_number}; "
                            "its imported names were not checked."
                        )
                        continue
                    for statement in statements:
                        for name in _private_names_imported(
                            statement, importer, sources.is_package(importer), modules, imported
                        ):
                            key = (importer, line_number, name)
                            if key in seen:
                                continue
                            seen.add(key)
                            violations.append(
                                Violation(
                                    importer=importer,
                                    line_number=line_number,
                                    name=name,
                                    imported=imported,
                                    importer_area=importer_area,
                                    imported_area=imported_area,
                                )
                            )
                output.verbose_print(verbose, f"Checked {importer} -> {imported}.")

        violations.sort(key=lambda v: (v["importer"], v["line_number"], v["name"]))
        return ContractCheck(
            kept=not violations,
            metadata={"violations": violations},
            warnings=warnings,
            ignored_import_count=removal.ignored_import_count,
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error("Areas may not import each other's private names:", bold=False)
        output.new_line()
        for violation in cast(list[Violation], check.metadata["violations"]):
            output.print_error(
                f"- {violation['importer']}:{violation['line_number']} -> {violation['name']} "
                f"({violation['importer_area']} -> {violation['imported_area']})",
                bold=False,
            )
        output.new_line()


def _private_names_imported(
    statement: ast.Import | ast.ImportFrom,
    importer: str,
    importer_is_package: bool,
    modules: set[str],
    imported: str,
) -> list[str]:
    """
    The dotted names that the statement imports from the module ``imported`` and that are private
    (have an underscore-named component below the top-level package).
    """
    found: list[str] = []
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if alias.name == imported and _has_private_component(alias.name):
                found.append(alias.name)
        return found
    source = _absolute_module(statement, importer, importer_is_package)
    if source is None:
        return found
    for alias in statement.names:
        if alias.name == "*":
            continue
        full_name = f"{source}.{alias.name}"
        # grimp records "from package import submodule" as an import of the submodule.
        target = full_name if full_name in modules else source
        if target == imported and _has_private_component(full_name):
            found.append(full_name)
    return found


def _has_private_component(dotted_name: str) -> bool:
    return any(is_private_name(part) for part in dotted_name.split(".")[1:])


def _absolute_module(
    statement: ast.ImportFrom, importer: str, importer_is_package: bool
) -> str | None:
    if not statement.level:
        return statement.module
    parts = importer.split(".")
    # A package's own name is the base for "from . import x"; a module's parent is otherwise.
    drop = statement.level - 1 if importer_is_package else statement.level
    if drop >= len(parts):
        return None
    base = parts[: len(parts) - drop] if drop else parts
    return ".".join([*base, statement.module] if statement.module else base)


def _parse_line(line_contents: str) -> list[ast.Import | ast.ImportFrom] | None:
    """Fallback when the source cannot be read: parse grimp's copy of the line, if complete."""
    try:
        tree = ast.parse(line_contents.strip())
    except SyntaxError:
        return None
    return [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


class _SourceReader:
    """Finds and parses module sources without importing any of the project's packages."""

    def __init__(self) -> None:
        self._roots: dict[str, list[Path]] = {}
        self._paths: dict[str, Path | None] = {}
        self._statements: dict[str, dict[int, list[ast.Import | ast.ImportFrom]] | None] = {}

    def _root_locations(self, root: str) -> list[Path]:
        if root not in self._roots:
            # find_spec of a top-level name locates it without running any package code.
            spec = importlib.util.find_spec(root)
            locations: list[Path] = []
            if spec is not None and spec.submodule_search_locations is not None:
                locations = [Path(location) for location in spec.submodule_search_locations]
            elif spec is not None and spec.origin:
                locations = [Path(spec.origin)]
            self._roots[root] = locations
        return self._roots[root]

    def path_of(self, module: str) -> Path | None:
        if module not in self._paths:
            root, *rest = module.split(".")
            path: Path | None = None
            for location in self._root_locations(root):
                if location.is_file():
                    path = location if not rest else None
                    break
                base = location.joinpath(*rest)
                for candidate in (base / "__init__.py", base.with_suffix(".py")):
                    if candidate.is_file():
                        path = candidate
                        break
                if path is not None:
                    break
            self._paths[module] = path
        return self._paths[module]

    def is_package(self, module: str) -> bool:
        path = self.path_of(module)
        return path is not None and path.name == "__init__.py"

    def statements_at(
        self, module: str, line_number: int
    ) -> list[ast.Import | ast.ImportFrom] | None:
        """The import statements starting on a line of a module, or None if unreadable."""
        if module not in self._statements:
            self._statements[module] = self._parse(module)
        by_line = self._statements[module]
        if by_line is None:
            return None
        return by_line.get(line_number, [])

    def _parse(self, module: str) -> dict[int, list[ast.Import | ast.ImportFrom]] | None:
        path = self.path_of(module)
        if path is None:
            return None
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            return None
        by_line: dict[int, list[ast.Import | ast.ImportFrom]] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                by_line.setdefault(node.lineno, []).append(node)
        return by_line
