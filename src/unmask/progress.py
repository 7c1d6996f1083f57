"""A progress bar for long work (tqdm on stderr; silent when not a terminal or when asked)."""

from __future__ import annotations

from types import TracebackType

from tqdm import tqdm


class ProgressBar:
    """Maps the pipeline's ``progress(stage, fraction)`` calls onto a 0-100 % bar."""

    def __init__(self, title: str, disable: bool = False) -> None:
        self._bar = tqdm(total=100, desc=title[:40], unit="%", leave=False,
                         disable=True if disable else None,  # None: off when stderr is not a terminal
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}")
        self._done = 0

    def update(self, stage: str, fraction: float) -> None:
        target = int(round(100 * min(max(fraction, 0.0), 1.0)))
        if target > self._done:
            self._bar.update(target - self._done)
            self._done = target
        self._bar.set_postfix_str(stage, refresh=False)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.close()
