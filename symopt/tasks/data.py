"""Character corpora for the language-model tasks: offline default, cached, checksummed.

Two corpora:

- ``python-docs`` (the default, always offline): the docstrings of the public top-level
  modules of the running CPython's standard library, read with :mod:`ast` (nothing is
  imported), kept to printable ASCII and cut at 1,000,000 characters (CPython 3.11.7:
  791,553 characters, 96 symbols, unigram entropy 3.2785 nats = 4.730 bits). It is the same text on
  every machine with the same Python version; its sha256 is recorded on the corpus.
- ``shakespeare_char``: karpathy's tinyshakespeare ``input.txt``, downloaded once when the
  network allows, cached, checked (length and sha256) and refused with a clear
  :class:`~symopt.errors.UserError` when it cannot be had.

Everything lands in :func:`cache_dir` (``$SYMOPT_CACHE`` or ``~/.cache/symopt``); the
encoded characters are cached as an ``.npy`` keyed by the text's sha256.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import math
import os
import sys
import sysconfig
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symopt.errors import UserError

SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
SHAKESPEARE_CHARS = 1_115_394  # the well-known length of tinyshakespeare/input.txt
PYTHON_DOCS_CHARS = 1_000_000
_PYTHON_DOCS_BUILD = 1  # bump when the recipe of the python-docs text changes

CORPORA = ("python-docs", "shakespeare_char")


def cache_dir() -> Path:
    """The cache directory: ``$SYMOPT_CACHE`` if set, else ``~/.cache/symopt``.

    >>> import os
    >>> os.environ["SYMOPT_CACHE"] = "/tmp/symopt-doctest-cache"
    >>> str(cache_dir())
    '/tmp/symopt-doctest-cache'
    >>> del os.environ["SYMOPT_CACHE"]
    """
    env = os.environ.get("SYMOPT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "symopt"


def _try_write(path: Path, data: bytes) -> None:
    """Write atomically; a read-only cache is not an error, just no cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass


def sha256_text(text: str) -> str:
    """Hex sha256 of the UTF-8 bytes of ``text``.

    >>> sha256_text("abc")[:12]
    'ba7816bf8f01'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unigram_entropy(tokens: np.ndarray) -> float:
    """Entropy in nats of the empirical character distribution (the loss of a model
    that knows only character frequencies).

    >>> round(unigram_entropy(np.array([0, 1, 0, 1])), 4)  # ln 2
    0.6931
    """
    counts = np.bincount(np.asarray(tokens).ravel())
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


@dataclass(frozen=True, eq=False)
class Corpus:
    """An encoded character corpus.

    ``tokens`` are indices into ``vocab``; ``unigram_entropy`` is in nats (the unit of the
    cross-entropy loss), so any model worth its training should end below it.
    """

    name: str
    vocab: str
    tokens: np.ndarray
    sha256: str
    unigram_entropy: float

    @property
    def n_chars(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split(self, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """(train, validation) tokens: the last ``val_fraction`` is held out."""
        cut = int(self.n_chars * (1.0 - val_fraction))
        return self.tokens[:cut], self.tokens[cut:]

    def describe(self) -> str:
        return (
            f"{self.name}: {self.n_chars:,} chars, vocab {self.vocab_size}, "
            f"unigram entropy {self.unigram_entropy:.4f} nats "
            f"({self.unigram_entropy / math.log(2):.4f} bits), sha256 {self.sha256[:16]}"
        )


def from_text(name: str, text: str, *, cache: bool = True) -> Corpus:
    """Encode ``text`` character by character (vocab = sorted distinct characters).

    The encoding is cached as ``tokens-<sha256>.npy`` in :func:`cache_dir` when ``cache``.

    >>> c = from_text("tiny", "abracadabra", cache=False)
    >>> c.vocab, c.tokens.tolist()[:4], c.n_chars
    ('abcdr', [0, 1, 4, 0], 11)
    """
    digest = sha256_text(text)
    vocab = "".join(sorted(set(text)))
    dtype = np.uint8 if len(vocab) <= 256 else np.uint16
    path = cache_dir() / f"tokens-{digest[:32]}.npy"
    tokens = None
    if cache and path.exists():
        try:
            tokens = np.load(path)
            if tokens.shape != (len(text),) or tokens.dtype != dtype:
                tokens = None
        except (OSError, ValueError):
            tokens = None
    if tokens is None:
        index = {ch: i for i, ch in enumerate(vocab)}
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.zeros(max(map(ord, vocab)) + 1 if vocab else 1, dtype=dtype)
        for ch, i in index.items():
            table[ord(ch)] = i
        tokens = table[codes].astype(dtype)
        if cache:
            import io

            buf = io.BytesIO()
            np.save(buf, tokens)
            _try_write(path, buf.getvalue())
    tokens.setflags(write=False)
    return Corpus(name, vocab, tokens, digest, unigram_entropy(tokens))


def _clean(doc: str) -> str:
    doc = doc.replace("\t", "    ")
    return "".join(ch for ch in doc if ch == "\n" or " " <= ch <= "~")


def _build_python_docs(limit: int = PYTHON_DOCS_CHARS) -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for path in sorted(stdlib.glob("*.py")):
        if path.name.startswith(("_", "test")):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    doc = _clean(doc) + "\n\n"
                    parts.append(doc)
                    total += len(doc)
        if total >= limit:
            break
    return "".join(parts)[:limit]


def python_docs_text() -> str:
    """The default corpus text: stdlib docstrings of this Python, cached per version.

    >>> text = python_docs_text()
    >>> len(text) > 500_000 and text.isascii()
    True
    """
    version = f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}"
    path = cache_dir() / f"python-docs-{version}-b{_PYTHON_DOCS_BUILD}.txt"
    if path.exists():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    text = _build_python_docs()
    _try_write(path, text.encode("utf-8"))
    return text


def shakespeare_text(*, url: str = SHAKESPEARE_URL, timeout_s: float = 20.0) -> str:
    """tinyshakespeare, downloaded once into ``cache_dir()/shakespeare_char/``.

    The first download is checked against the known length and its sha256 is stored next
    to it; later loads check that sha256. Offline, this raises a ``UserError`` that says
    where to put the file by hand.
    """
    folder = cache_dir() / "shakespeare_char"
    path, sum_path = folder / "input.txt", folder / "input.txt.sha256"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        digest = sha256_text(text)
        if sum_path.exists() and sum_path.read_text().strip() != digest:
            raise UserError(
                f"cached shakespeare_char at {path} fails its sha256 check "
                f"(expected {sum_path.read_text().strip()}, got {digest}); delete it to "
                "download it again"
            )
        if not sum_path.exists():
            _try_write(sum_path, (digest + "\n").encode())
        return text
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            raw = response.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise UserError(
            f"cannot download the shakespeare_char corpus from {url} ({err}); this machine "
            f"seems offline. Put tinyshakespeare's input.txt at {path} by hand, or use the "
            "offline default corpus 'python-docs'"
        ) from None
    text = raw.decode("utf-8")
    if len(text) != SHAKESPEARE_CHARS:
        raise UserError(
            f"downloaded shakespeare_char from {url} has {len(text):,} characters, expected "
            f"{SHAKESPEARE_CHARS:,}; refusing it"
        )
    _try_write(path, raw)
    _try_write(sum_path, (sha256_text(text) + "\n").encode())
    return text


@functools.lru_cache(maxsize=4)
def load_corpus(name: str = "python-docs") -> Corpus:
    """Load (and cache) a corpus by name: ``python-docs`` or ``shakespeare_char``.

    >>> c = load_corpus("python-docs")
    >>> c.n_chars > 500_000, 2.0 < c.unigram_entropy < 4.0
    (True, True)
    """
    if name == "python-docs":
        return from_text(name, python_docs_text())
    if name == "shakespeare_char":
        return from_text(name, shakespeare_text())
    raise UserError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
