"""Batch planning for local backends: truncation, length-sorted packing, shared prefixes.

Pure Python (no torch), so the policies can be tested and read without an engine. Lengths and
budgets are in tokens. A *token budget* bounds the padded size of a batch: ``batch size x padded
length <= budget``; a single sequence longer than the budget still gets a batch of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

T = TypeVar("T")
U = TypeVar("U")
TruncationSide = Literal["left", "right"]


def truncate(seq: Sequence[int], max_length: int, side: TruncationSide) -> tuple[list[int], int]:
    """Cut ``seq`` to at most ``max_length`` tokens on ``side``; returns (tokens, number cut).

    ``side="left"`` drops the oldest tokens (keeps the response end, usually what a reward model
    needs); ``"right"`` drops the newest. ``max_length`` must be >= 1.

    >>> truncate([1, 2, 3, 4], 3, "left")
    ([2, 3, 4], 1)
    >>> truncate([1, 2, 3, 4], 3, "right")
    ([1, 2, 3], 1)
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    cut = max(0, len(seq) - max_length)
    if cut == 0:
        return list(seq), 0
    return (list(seq[cut:]) if side == "left" else list(seq[:max_length])), cut


def pack_by_budget(
    lengths: Sequence[int],
    token_budget: int,
    max_batch_size: int,
    rows: Sequence[int] | None = None,
    batch_cost: int = 32,
    prefixes: Sequence[int] | None = None,
) -> list[list[int]]:
    """Indices into ``lengths`` grouped into batches that waste little padding, longest batch first.

    Items are sorted by length (descending; ties by index, so the plan is deterministic) and cut
    into contiguous runs. Among all cuts where every batch has ``rows <= max_batch_size`` and
    ``rows x longest <= token_budget``, the one minimising ``padded cells + batch_cost x batches``
    is chosen by dynamic programming (O(items x max_batch_size)). ``batch_cost`` is the fixed cost
    of one forward call in token-equivalents: 0 gives the least padding, a large value the fewest
    batches. An item that alone exceeds a limit gets a batch of its own. Batches come in sort order
    (longest first for plain sequences), so out-of-memory usually shows up at once.

    Groups sharing a prefix: ``rows[i]`` is how many sequences item ``i`` holds and
    ``prefixes[i]`` how many of its ``lengths[i]`` tokens are computed once. A batch then costs
    ``items x longest prefix + rows x longest rest`` cells; orders by total, prefix and rest length
    are all tried and the cheapest plan wins.

    >>> pack_by_budget([5, 1, 3, 3], token_budget=6, max_batch_size=8)
    [[0], [2, 3], [1]]
    >>> pack_by_budget([4, 4, 4], token_budget=100, max_batch_size=4, rows=[2, 2, 2])
    [[0, 1], [2]]
    >>> pack_by_budget([100, 60, 59, 58], token_budget=1000, max_batch_size=8, batch_cost=10)
    [[0], [1, 2, 3]]
    """
    size = list(rows) if rows is not None else [1] * len(lengths)
    head = list(prefixes) if prefixes is not None else [0] * len(lengths)
    rest = [max(n - p, 1) for n, p in zip(lengths, head, strict=True)]
    keys = [lengths] if prefixes is None else [lengths, head, rest]
    plans = [_cheapest_cut(key, size, head, rest, token_budget, max_batch_size, batch_cost) for key in keys]
    return min(plans, key=lambda plan: plan[0])[1]


def _cheapest_cut(
    key: Sequence[int], size: list[int], head: list[int], rest: list[int],
    token_budget: int, max_batch_size: int, batch_cost: int,
) -> tuple[float, list[list[int]]]:
    order = sorted(range(len(key)), key=lambda i: (-key[i], i))
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest packing of order[:j]
    cut = [0] * (n + 1)  # the last batch of that packing starts at order[cut[j]]
    for j in range(1, n + 1):
        used = items = p_max = r_max = 0
        for i in range(j - 1, -1, -1):  # last batch = order[i:j]; limits only grow as i decreases
            k = order[i]
            used, items = used + size[k], items + 1
            p_max, r_max = max(p_max, head[k]), max(r_max, rest[k])
            if i < j - 1 and (used > max_batch_size or used * (p_max + r_max) > token_budget):
                break
            cost = best[i] + items * p_max + used * r_max + batch_cost
            if cost < best[j]:
                best[j], cut[j] = cost, i
    batches: list[list[int]] = []
    j = n
    while j > 0:
        batches.append(order[cut[j] : j])
        j = cut[j]
    return best[n], batches[::-1]


def common_prefix_length(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every sequence (0 for an empty list).

    >>> common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]])
    2
    """
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for k in range(n):
        t = first[k]
        if any(s[k] != t for s in seqs[1:]):
            return k
    return n


def shared_prefix_length(seqs: Sequence[Sequence[int]]) -> int:
    """The prefix a group can compute once: the common prefix, but leaving each sequence at least
    one token of its own (the continuation pass must see every sequence's last token).

    Returns 0 for groups of fewer than two sequences or when there is nothing to share.
    """
    if len(seqs) < 2:
        return 0
    return max(0, min(common_prefix_length(seqs), min(len(s) for s in seqs) - 1))


def flatten_groups(groups: Sequence[Sequence[T]]) -> tuple[list[T], list[int]]:
    """All items of ``groups`` in one list, and each group's size (to undo it with :func:`regroup`).

    For backends whose engine shares prefixes itself (vLLM, a server): the grouped methods of the
    backend interface run the flat list.

    >>> flatten_groups([[1, 2], [], [3]])
    ([1, 2, 3], [2, 0, 1])
    """
    return [x for g in groups for x in g], [len(g) for g in groups]


def regroup(flat: Sequence[U], sizes: Sequence[int]) -> list[list[U]]:
    """Split ``flat`` back into groups of ``sizes``.

    >>> regroup(["a", "b", "c"], [2, 0, 1])
    [['a', 'b'], [], ['c']]
    """
    if len(flat) != sum(sizes):
        raise ValueError(f"{len(flat)} results for {sum(sizes)} inputs")
    out, at = [], 0
    for n in sizes:
        out.append(list(flat[at : at + n]))
        at += n
    return out
