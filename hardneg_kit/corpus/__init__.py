"""BEIR data: load and validate a folder, sample it to a profile's size, or build one from docs.

A BEIR folder holds ``corpus.jsonl[.gz]`` (``_id``, ``title``, ``text``, extra fields such as
``service``), ``queries.jsonl[.gz]`` (``_id``, ``text``, extras) and ``qrels/<split>.tsv[.gz]``
(header ``query-id<TAB>corpus-id<TAB>score``), all UTF-8 (a byte-order mark is fine). Bad input
raises :class:`DataError` whose message names the file, the line and the id, and says what to
do; a missing file raises :class:`FileNotFoundError` naming the expected path.

Example:
    >>> from hardneg_kit.corpus import load_dataset
    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
    >>> data.splits(), len(data.corpus)  # doctest: +SKIP
    (['train', 'dev', 'test'], 600)
    >>> data.positives("test")["q12"]  # doctest: +SKIP
    ['s3/rb']

Sampling (:func:`sample`) keeps every positive of the sampled queries and fills the document
budget with their *group neighbours* first (documents sharing ``service``: the other commands of
the same AWS service), so that a small run is still a hard-negative problem.

Profiles sample only the shipped datasets (:data:`SAMPLED_DATASETS`); a user's own dataset keeps
every document (:func:`profile_sample`).

Your own documentation becomes a BEIR folder with :func:`corpus_from_folder`,
:func:`queries_from_file` and :func:`write_beir_folder`; :func:`split_judgements` splits its
judgements into train/dev/test by groups, so that no document is a positive in two splits.

Each module answers one question; every name is re-exported here:

- :mod:`~hardneg_kit.corpus.data`: the dataset in memory (:class:`BeirData`) and the text
  encoders see (:func:`passage_text`);
- :mod:`~hardneg_kit.corpus.reading`: reading a BEIR folder's files, and the faults refused;
- :mod:`~hardneg_kit.corpus.beir`: :func:`load_beir` and :func:`write_beir_folder`;
- :mod:`~hardneg_kit.corpus.shipped`: which datasets ship, and finding one by name;
- :mod:`~hardneg_kit.corpus.sampling`: :func:`sample`, :func:`profile_sample`,
  :func:`load_dataset`;
- :mod:`~hardneg_kit.corpus.groups`: which queries belong together (:func:`query_groups`) and
  which repeat across splits (:func:`shared_query_texts`), for ``corpus stats`` and
  ``corpus validate``;
- :mod:`~hardneg_kit.corpus.splitting`: :func:`split_judgements` (``corpus split``);
- :mod:`~hardneg_kit.corpus.folder`, :mod:`~hardneg_kit.corpus.chunking`,
  :mod:`~hardneg_kit.corpus.ids`: documentation files -> passages (``corpus from-folder``);
- :mod:`~hardneg_kit.corpus.questions`: a file of questions -> queries and qrels
  (:func:`queries_from_file`).
"""

from hardneg_kit.corpus.beir import load_beir, write_beir_folder
from hardneg_kit.corpus.chunking import chunk_text
from hardneg_kit.corpus.data import SPLIT_ORDER, BeirData, passage_text, passage_texts
from hardneg_kit.corpus.folder import DOC_SUFFIXES, corpus_from_folder, slugify
from hardneg_kit.corpus.groups import id_group, query_groups, shared_query_texts
from hardneg_kit.corpus.ids import MAX_ID_LENGTH, _unique_ids, safe_id
from hardneg_kit.corpus.questions import queries_from_file
from hardneg_kit.corpus.reading import qrels_files
from hardneg_kit.corpus.sampling import _allocate, load_dataset, profile_sample, query_caps, sample
from hardneg_kit.corpus.shipped import (
    DATA_DIR,
    SAMPLED_DATASETS,
    is_shipped,
    resolve_dataset,
    shipped_datasets,
)
from hardneg_kit.corpus.splitting import (
    GROUP_BY,
    SPLIT_BACKUP,
    SPLIT_NAMES,
    SplitSummary,
    split_judgements,
)
from hardneg_kit.errors import DataError

__all__ = [
    "DATA_DIR", "DOC_SUFFIXES", "GROUP_BY", "MAX_ID_LENGTH", "SAMPLED_DATASETS", "SPLIT_BACKUP",
    "SPLIT_NAMES", "SPLIT_ORDER", "BeirData", "DataError", "SplitSummary", "_allocate",
    "_unique_ids", "chunk_text", "corpus_from_folder", "id_group", "is_shipped", "load_beir",
    "load_dataset", "passage_text", "passage_texts", "profile_sample", "qrels_files",
    "queries_from_file", "query_caps", "query_groups", "resolve_dataset", "safe_id", "sample",
    "shared_query_texts", "shipped_datasets", "slugify", "split_judgements", "write_beir_folder",
]
