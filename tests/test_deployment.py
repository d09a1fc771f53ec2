"""The compose file parses and every service runs a command the CLI really has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from askaround.cli.registry import build_cli

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def askaround_invocations(command: list[str]) -> list[list[str]]:
    """The ``askaround ...`` argument lists a service runs (directly or inside ``sh -c``)."""
    if command[:1] == ["askaround"]:
        return [command[1:]]
    assert command[:2] == ["sh", "-c"], command
    found = []
    for part in re.split(r";|&&|\bdo\b|\bdone\b", command[2]):
        words = shlex.split(part)
        if words[:1] == ["askaround"]:
            found.append(words[1:])
    return found


def resolve(group: Any, words: list[str]) -> tuple[tuple[str, ...], Any]:
    """The sub-command path and the command ``words`` name (typer vendors its own click)."""
    path: list[str] = []
    command = group
    for word in words:
        if not hasattr(command, "commands") or word.startswith("-"):
            break
        sub = command.commands.get(word)
        if sub is None:
            return (*path, word), None
        path.append(word)
        command = sub
    return tuple(path), command


def test_compose_has_the_services_a_deployment_needs_with_healthchecks() -> None:
    services = compose()["services"]
    assert {"db", "migrate", "api", "worker", "scheduler", "bot"} <= set(services)
    assert "healthcheck" in services["db"] and "healthcheck" in services["api"]
    for name in ("api", "worker", "scheduler", "bot"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["bot"]["profiles"] == ["slack"] and "--socket" in services["bot"]["command"]
    worker = services["worker"]  # scalable: nothing a second copy would clash on
    assert "ports" not in worker and "container_name" not in worker


def test_every_service_command_exists_in_the_cli_with_its_options() -> None:
    group = typer.main.get_command(build_cli())
    checked = 0
    for name, service in compose()["services"].items():
        if "command" not in service or service.get("image", "").startswith("postgres"):
            continue
        for words in askaround_invocations(service["command"]):
            path, command = resolve(group, words)
            assert command is not None, f"{name}: `askaround {' '.join(words)}` is not a command"
            known = {opt for param in command.params for opt in getattr(param, "opts", [])}
            for word in words:
                if word.startswith("--"):
                    assert word in known, f"{name}: {' '.join(path)} has no option {word}"
            checked += 1
    assert checked >= 4


def test_the_image_installs_the_cpu_build_of_torch_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "download.pytorch.org/whl/cpu" in dockerfile
    torch_line = next(line for line in dockerfile.splitlines() if "torch==" in line)
    assert "--index-url" in torch_line
