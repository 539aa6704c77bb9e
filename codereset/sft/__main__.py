"""`python -m codereset.sft [--out DIR] [--max-steps N] ...`: run the warm-start (see SFTConfig).

Every SFTConfig field is an option (`--field-name`, nested shape fields as `--hidden-size` etc.);
`--help` lists them with their defaults. Prints one line per evaluation and, last, the checkpoint
path with the val pass rate it stopped at. Exit status 0 when the pass rate ended in the target
band, 3 when the budget ran out outside it (the checkpoint is saved either way).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from codereset.sft.config import ModelShape, SFTConfig


def _parse_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "null", "") else int(text)


def _add_fields(parser: argparse.ArgumentParser, cls: type, instance: object) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            _add_fields(parser, type(value), value)
            continue
        flag = "--" + f.name.replace("_", "-")
        tp = hints[f.name]
        if isinstance(value, bool):
            parser.add_argument(flag, dest=f.name, type=_parse_bool,
                                default=value, help=f"true/false (default {value})")
        elif isinstance(value, list):
            parser.add_argument(flag, dest=f.name, type=int, nargs="+", default=value,
                                help=f"(default {' '.join(map(str, value))})")
        elif tp == str | None:
            parser.add_argument(flag, dest=f.name, default=value, help=f"(default {value})")
        elif tp == int | None:
            parser.add_argument(flag, dest=f.name, type=_parse_optional_int, default=value,
                                help=f"integer or none (default {value})")
        else:
            parser.add_argument(flag, dest=f.name, type=type(value), default=value, help=f"(default {value})")


def config_from_args(argv: list[str] | None = None) -> SFTConfig:
    """An SFTConfig from command-line options (unknown options fail with argparse's message)."""
    parser = argparse.ArgumentParser(prog="python -m codereset.sft", description=__doc__.splitlines()[0],
                                     epilog=SFTConfig.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_fields(parser, SFTConfig, SFTConfig())
    args = vars(parser.parse_args(argv))
    shape = ModelShape(**{f.name: args.pop(f.name) for f in dataclasses.fields(ModelShape)})
    return SFTConfig(shape=shape, **args)


def main(argv: list[str] | None = None) -> int:
    from codereset.sft.train import run

    summary = run(config_from_args(argv))
    return 0 if summary["in_target_band"] else 3


if __name__ == "__main__":
    raise SystemExit(main())
