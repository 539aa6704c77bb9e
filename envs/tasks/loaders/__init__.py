"""File loaders for standard dataset formats and our own JSONL format (see each module).

All take ``path=`` (a .jsonl or .json file) or ``hub=`` (a hub dataset, needs `datasets` and
network) and ``n=``; a malformed record raises `DataFormatError` naming file, line and field.
"""

from envs.tasks.loaders.records import DataFormatError

__all__ = ["DataFormatError"]
