"""Resume: each finished question is saved as one JSON file; a rerun skips what is saved.

Files live under ``<out>/cache/<key>/``, where the key hashes everything that changes the
answers or the verdicts: the panel, judge, writer and their fallbacks, token caps and
temperature, the independent judges, whether the self-preference test runs, and the judge prompt
version. Timing knobs (timeouts, grace, quorum) are left out, so tuning them keeps the cache. A
file is named by question id plus a hash of the question text, so editing a question reruns it.
Files are written atomically (temporary file, then rename), so an interrupted eval never leaves a
half-written record; an unreadable record is treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from fusion_engine.pools import PoolSpec
from fusion_eval.judging import JUDGE_MAX_TOKENS, PROMPT_VERSION
from fusion_eval.questions import EvalQuestion
from fusion_eval.records import QuestionRecord

__all__ = ["ResultCache", "cache_key"]

_TIMING_FIELDS = {"name", "description", "call_timeout_s", "grace_s", "deadline_s", "quorum"}
_TIMING_FIELDS |= {"max_retries"}


def cache_key(pool: PoolSpec, judges: tuple[str, ...], *, self_preference: bool) -> str:
    """A short hash naming one eval configuration."""
    material = {
        "pool": pool.model_dump(mode="json", exclude=_TIMING_FIELDS),
        "judges": list(judges),
        "self_preference": self_preference,
        "prompt": PROMPT_VERSION,
        "judge_max_tokens": JUDGE_MAX_TOKENS,
    }
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class ResultCache:
    """The saved question records of one eval configuration."""

    def __init__(self, out_dir: Path, key: str) -> None:
        self.key = key
        self.directory = out_dir / "cache" / key

    def _path(self, question: EvalQuestion) -> Path:
        digest = hashlib.sha256(question.question.encode()).hexdigest()[:8]
        return self.directory / f"{question.id}-{digest}.json"

    def load(self, question: EvalQuestion) -> QuestionRecord | None:
        """The saved record for ``question``, or ``None`` when there is no usable one."""
        path = self._path(question)
        try:
            record = QuestionRecord.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None
        if record.cache_key != self.key or record.question != question.question:
            return None
        return record

    def save(self, record: QuestionRecord, question: EvalQuestion) -> Path:
        """Write ``record`` atomically and return its path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(question)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(record.model_dump_json(indent=1))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
