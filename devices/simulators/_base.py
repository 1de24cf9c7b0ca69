"""What every simulator shares: it runs between `start` and `stop`, so a `with` block runs it."""

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Simulator(ABC):
    """A simulator started on entering a `with` block and stopped on leaving it."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
