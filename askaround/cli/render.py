"""Plain-text rendering of core values for the terminal."""

from __future__ import annotations

from router.routing.route import Route


def render_route(route: Route, *, asker: str | None = None) -> str:
    """A routed question as the CLI shows it: who to ask, and why."""
    head = f'? "{route.question}"' + (f"  (asked by {asker})" if asker else "")
    lines = [head]
    for n, candidate in enumerate(route.candidates, start=1):
        lines.append(
            f"  {n}. {candidate.name} <{candidate.external_id}>  score {candidate.score:.3f}"
        )
        for reason in candidate.reasons:
            lines.append(f"       - {reason.text}")
    if route.adjusted:
        lines.append("  (fairness changed the order: see the fairness reasons)")
    for note in route.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)
