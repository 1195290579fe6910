"""Reading a sweep's grid file (YAML or TOML, by suffix) into the mapping
:func:`btcbot_pipeline.domain.sweep_grid.expand` takes.

Decimal numbers stay the text the file has (``0.10`` stays ``0.10``): YAML floats are
read as their scalar text and TOML floats through ``parse_float=str``, so no setting value
passes through a binary float.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from btcbot_pipeline.defs.sweep.manifest import SweepError

YAML_SUFFIXES = (".yaml", ".yml")
TOML_SUFFIXES = (".toml",)


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader that gives floats as their written text."""


_ExactLoader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def read_grid_file(path: str | Path) -> Any:
    """The parsed grid file.

    Raises:
        SweepError: a missing file, another suffix, or text that does not parse.
    """
    p = Path(path)
    if not p.is_file():
        raise SweepError(f"--grid {path}: no such file")
    suffix = p.suffix.lower()
    text = p.read_text(encoding="utf-8")
    if suffix in YAML_SUFFIXES:
        try:
            return yaml.load(text, Loader=_ExactLoader)  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError as exc:
            raise SweepError(f"--grid {path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if suffix in TOML_SUFFIXES:
        try:
            return tomllib.loads(text, parse_float=str)
        except tomllib.TOMLDecodeError as exc:
            raise SweepError(f"--grid {path}: not valid TOML ({exc})") from None
    raise SweepError(f"--grid {path}: a .yaml, .yml or .toml file is expected")
