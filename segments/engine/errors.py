from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str  # e.g. "blocks[1].where.all[0].op"
    message: str

    def __post_init__(self) -> None:
        # Paths and messages may quote the input; a lone surrogate there ("\ud800" in
        # JSON) could be sent in no response, so it is written as its escape.
        for name in ("path", "message"):
            text = getattr(self, name)
            object.__setattr__(self, name, text.encode("utf-8", "backslashreplace").decode())

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(ValueError):
    """A definition was refused. ``errors`` lists every problem with its path."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    @property
    def errors(self) -> list[dict[str, str]]:
        return [{"path": p.path, "message": p.message} for p in self.problems]
