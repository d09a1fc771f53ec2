"""How the bot's processes log: every line with its time and level, whoever started the process.

Socket Mode starts its own process; HTTP mode runs inside uvicorn, which configures only its own
loggers, so the bot's warnings used to reach Python's last-resort handler as bare text.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: int = logging.INFO) -> None:
    """Timestamped, levelled lines on stderr, unless the process already configured logging."""
    logging.basicConfig(level=level, format=FORMAT)
