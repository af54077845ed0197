"""The seed tree: every random number a run uses, addressed by (stream, block).

Trials are grouped in fixed blocks of ``BLOCK`` trials. Each (stream, block)
pair has its own generator, ``PCG64(SeedSequence(seed, spawn_key=(stream,
block)))``, which draws the block's trials in order, trial by trial. A chunk of
trials is computed over the blocks that cover it, from the first block's first
trial, and then cut to size, so trial ``i``'s numbers depend only on ``(seed,
i)``: results are identical for any chunk size and any number of worker
processes (docs/model.md s.13). The last block may stop early (``n``): a
generator's first ``m`` values do not depend on how many follow, so a run of
one trial draws one trial's numbers, not a thousand.

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


def rows(a: int, b: int) -> int:
    """The trials a chunk ``a .. b-1`` is computed over: from its first block's first trial to ``b - 1``, and
    at least two. numpy reduces a one-row array in another order than a taller one (a (1, T) view of a
    period-major array is summed pairwise, a taller one period by period), so a one-trial run computed on
    one row would differ from a longer run in the last bits."""
    return max(b - a // BLOCK * BLOCK, 2)


class BlockDraws:
    """Uniforms for the trials of blocks ``first_block .. first_block + n_blocks - 1``.

    Arrays returned lead with trials: ``(n, *shape)``, ``n`` the trials from the first block's first, all
    of every block (``n_blocks * BLOCK``) unless a smaller ``n`` stops the last block early (every draw
    of a block is made in trial order, so the trials drawn have the numbers a whole block gives them).
    """

    def __init__(self, seed: int, first_block: int, n_blocks: int, n: int | None = None):
        self.seed = int(seed)
        self.first_block = first_block
        self.n_blocks = n_blocks
        full = n_blocks * BLOCK
        if n is not None and not (full - BLOCK < n <= full):
            raise ValueError(f"n must end in the last of the {n_blocks} blocks; got {n}")
        self.n = full if n is None else int(n)

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
