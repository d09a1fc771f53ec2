"""The README's map of the core matches the folders: every package is listed, every module named
in its row exists, and every module of the package is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\s*\|\s*((?:`[a-z_]+/`(?:,\s*)?)+)\s*\|(.*)\|\s*$")


def map_rows() -> dict[str, set[str]]:
    """Each folder of the README's table, with the module names its row puts in backticks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        names = set(re.findall(r"`([a-z_]+)/?`", match[2]))
        for folder in re.findall(r"`([a-z_]+)/`", match[1]):
            rows[folder] = names
    return rows


def test_the_readme_map_lists_every_core_package_and_module() -> None:
    rows = map_rows()
    packages = {
        p.name for p in (ROOT / "router").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    assert set(rows) == packages
    for folder, named in rows.items():
        modules = {
            p.stem if p.suffix == ".py" else p.name
            for p in (ROOT / "router" / folder).iterdir()
            if (p.suffix == ".py" and p.stem != "__init__")
            or (p.is_dir() and p.name != "__pycache__")
        }
        modules -= {"demo"}  # data, not code
        assert modules <= named, f"{folder}/: not in the README: {sorted(modules - named)}"
        assert named <= modules, (
            f"{folder}/: the README names what is not there: {sorted(named - modules)}"
        )
