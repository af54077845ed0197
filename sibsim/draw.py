"""The seed tree: every random number a run uses, addressed by (stream, block).

Trials are grouped in fixed blocks of ``BLOCK`` trials. Each (stream, block)
pair has its own generator, ``PCG64(SeedSequence(seed, spawn_key=(stream,
block)))``, and always draws the whole block. A chunk of trials is computed
over the blocks that cover it and then cut to size, so trial ``i``'s numbers
depend only on ``(seed, i)``: results are identical for any chunk size and any
number of worker processes (docs/model.md s.13).

Streams: (0, hash of name) each parameter, 1 starts, 2 participants (a
counter-based stream keyed per trial and participant, see sibsim.kernel),
7 delivery (per trial, see sibsim.delivery).
"""

from __future__ import annotations

import hashlib

import numpy as np

BLOCK = 1000
PARAMS, STARTS, PARTICIPANTS, DELIVERY = 0, 1, 2, 7


def stream_key(seed: int, stream: int) -> np.uint64:
    """A 64-bit key for a counter-based stream (the participant pass in sibsim.kernel)."""
    return np.uint64(np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(1, np.uint64)[0])


def param_stream(name: str) -> tuple[int, int]:
    """Each parameter has its own stream keyed by its name, so adding, removing or
    fixing one parameter leaves every other parameter's draws unchanged."""
    return (PARAMS, int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little"))


def rng_for(seed: int, stream: int | tuple[int, ...], block: int) -> np.random.Generator:
    key = (*stream, block) if isinstance(stream, tuple) else (stream, block)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class BlockDraws:
    """Uniforms for the trials of blocks ``first_block .. first_block + n_blocks - 1``.

    Arrays returned lead with trials: ``(n_blocks * BLOCK, *shape)``.
    """

    def __init__(self, seed: int, first_block: int, n_blocks: int):
        self.seed = int(seed)
        self.first_block = first_block
        self.n_blocks = n_blocks
        self.n = n_blocks * BLOCK

    def generators(self, stream):
        for b in range(self.first_block, self.first_block + self.n_blocks):
            yield rng_for(self.seed, stream, b)

    def uniform(self, stream, shape: tuple[int, ...] = (), dtype=np.float64, out=None) -> np.ndarray:
        """Uniforms on [0, 1) of shape ``(n, *shape)``, drawn block by block in place (into ``out`` if given)."""
        if out is None:
            out = np.empty((self.n, *shape), dtype=dtype)
        for j, g in enumerate(self.generators(stream)):
            g.random(out=out[j * BLOCK:(j + 1) * BLOCK], dtype=dtype)
        return out

    def poisson(self, stream: int, lam: np.ndarray) -> np.ndarray:
        """Poisson counts with means ``lam`` of shape ``(n, ...)``."""
        out = np.empty(lam.shape, dtype=np.int64)
        for j, g in enumerate(self.generators(stream)):
            sl = slice(j * BLOCK, (j + 1) * BLOCK)
            out[sl] = g.poisson(lam[sl])
        return out
