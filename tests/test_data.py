"""Corpora: offline default, cache, checksums, and a clear error offline."""

import urllib.error

import numpy as np
import pytest

from symopt.errors import UserError
from symopt.tasks import data


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.slow
def test_python_docs_is_deterministic_and_cached(cache):
    text = data.python_docs_text()
    assert len(text) > 500_000 and text.isascii()
    assert list(cache.glob("python-docs-*.txt"))
    assert data.python_docs_text() == text
    c = data.from_text("python-docs", text)
    assert list(cache.glob("tokens-*.npy"))
    again = data.from_text("python-docs", text)  # loaded from the .npy
    assert np.array_equal(c.tokens, again.tokens) and c.sha256 == again.sha256
    assert "".join(c.vocab[i] for i in c.tokens[:200]) == text[:200]
    assert 2.5 < c.unigram_entropy < 4.0


def test_unigram_entropy_uniform():
    assert data.unigram_entropy(np.arange(8)) == pytest.approx(np.log(8))


def test_shakespeare_offline_is_a_clear_user_error(cache, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    with pytest.raises(UserError, match="cannot download the shakespeare_char.*input.txt"):
        data.shakespeare_text()


def test_shakespeare_download_checked_and_cached(cache, monkeypatch):
    text = ("First Citizen:\n" * 100_000)[: data.SHAKESPEARE_CHARS]

    class Resp:
        def __init__(self, body):
            self.body = body

        def read(self):
            return self.body

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: Resp(text.encode()))
    assert data.shakespeare_text() == text
    stored = (cache / "shakespeare_char" / "input.txt.sha256").read_text().strip()
    assert stored == data.sha256_text(text)
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: 1 / 0)
    assert data.shakespeare_text() == text  # from the cache, no network
    (cache / "shakespeare_char" / "input.txt").write_text(text[:-1] + "!")
    with pytest.raises(UserError, match="sha256"):
        data.shakespeare_text()


def test_shakespeare_wrong_length_refused(cache, monkeypatch):
    class Resp:
        def read(self):
            return b"too short"

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: Resp())
    with pytest.raises(UserError, match="expected 1,115,394"):
        data.shakespeare_text()


def test_unknown_corpus():
    with pytest.raises(UserError, match="python-docs"):
        data.load_corpus("klingon")
