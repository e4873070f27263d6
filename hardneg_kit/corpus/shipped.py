"""The datasets that ship under ``<repo>/data``, and finding a dataset by name or path.

Profiles sample only :data:`SAMPLED_DATASETS` in :data:`DATA_DIR` (:func:`is_shipped`); a name
that is not a folder is looked up there (:func:`resolve_dataset`).

Example:
    >>> resolve_dataset("aws-cli")  # doctest: +SKIP
    PosixPath('/.../hardneg-kit/data/aws-cli')
"""

from __future__ import annotations

from pathlib import Path

import hardneg_kit

#: the folder that holds the shipped datasets
DATA_DIR = Path(hardneg_kit.__file__).resolve().parents[1] / "data"


#: shipped datasets that profiles sample to their size (the committed results depend on it);
#: any other dataset is a user's own and keeps every document (see :func:`profile_sample`)
SAMPLED_DATASETS = ("aws-cli", "azure-cli", "python-faq")


def shipped_datasets() -> list[str]:
    """Names of the datasets under ``<repo>/data`` (folders with a corpus file)."""
    if not DATA_DIR.is_dir():
        return []
    return sorted(
        p.name
        for p in DATA_DIR.iterdir()
        if p.is_dir() and any((p / f"corpus.jsonl{z}").is_file() for z in ("", ".gz"))
    )


def resolve_dataset(name_or_path: str | Path) -> Path:
    """A shipped dataset name (``"aws-cli"``) or an existing folder -> the folder's path.

    >>> resolve_dataset("aws-cli")  # doctest: +SKIP
    PosixPath('/.../hardneg-kit/data/aws-cli')
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    shipped = DATA_DIR / str(name_or_path)
    if shipped.is_dir():
        return shipped
    names = shipped_datasets()
    raise FileNotFoundError(
        f"No dataset {str(name_or_path)!r}: not a folder, and not one of the shipped datasets "
        f"({', '.join(names) or f'none found in {DATA_DIR}'})."
    )


def is_shipped(folder: str | Path) -> bool:
    """Whether ``folder`` is one of :data:`SAMPLED_DATASETS` under :data:`DATA_DIR`.

    >>> is_shipped(DATA_DIR / "aws-cli"), is_shipped("my-docs")
    (True, False)
    """
    path = Path(folder).expanduser().resolve()
    return path.name in SAMPLED_DATASETS and path == (DATA_DIR / path.name).resolve()
