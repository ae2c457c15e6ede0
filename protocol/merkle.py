"""The Merkle tree over a log's entry ids, exactly as RFC 9162 §2.1 (DESIGN.md §3).

Every "leaf" in this module is a 32-byte **leaf hash** — ``SHA-256(0x00 || data)``, which for a shora log
is the entry id itself. Raw data enters the tree only through ``leaf_hash``; nothing here hashes a leaf a
second time, so an entry id can be handed to ``MemoryTree.append``, ``new_nodes`` and ``verify_inclusion``
unchanged.

The tree is addressed by **complete aligned subtrees**: ``(level, index)`` names the subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Every node RFC 9162 needs is
either such a subtree or is computed from O(log n) of them, so storage keeps exactly these nodes (one row
each, written once, never updated) and answers any proof with O(log n) lookups through ``NodeSource``.

Generation (``root``, ``inclusion_proof``, ``consistency_proof``) follows the recursive definitions of
RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1; verification follows the iterative algorithms of §2.1.3.2 and
§2.1.4.2. Every failure — a proof that does not verify, or arguments that cannot describe a proof — is a
``ProofError``; ``verify_*`` return ``None`` on success and never a boolean.

RFC 9162 verification binds a tree size to a root only through the shape of the path: a path for size n
can also verify against the same root under a neighbouring size whose path has the same shape. So a
``(size, root)`` pair handed to ``verify_*`` must come from one signed checkpoint, never from two sources.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol

from protocol.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "MemoryTree",
    "NodeSource",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "new_nodes",
    "node_hash",
    "root",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
# Sizes and indices travel as msgpack int64 (DESIGN.md §3); nothing larger can name a real tree.
MAX_TREE_SIZE = 2**63 - 1

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# RFC 9162 §2.1.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the prefix keeps a leaf from ever being read as an interior node."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the interior-node hash of RFC 9162 §2.1.1."""
    return _sha256(_NODE_PREFIX + left + right).digest()


class NodeSource(Protocol):
    """Anything that can hand out the hash of a complete aligned subtree.

    ``node(level, index)`` is the hash over leaves ``[index * 2**level, (index + 1) * 2**level)``. The
    functions below only ask for subtrees that lie wholly within the tree size they were given, so a
    source that stores every complete node (``MemoryTree``, the SQLite store) can always answer.
    """

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree at ``(level, index)``; level 0 is the leaf hashes."""
        ...


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(value: int, name: str, step: str) -> None:
    # bool is an int subclass; a True index is a bug in the caller, not leaf 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{name} must be an int, got {type(value).__name__}", step)
    if value < 0 or value > MAX_TREE_SIZE:
        raise ProofError(f"{name} {value} is outside 0..2^63-1", step)


def _check_hash(value: bytes, name: str, step: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, got {size}", step)


def _range_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH of leaves ``[start, end)``, for a range that the RFC's recursion can produce.

    Such a range starts at a multiple of the smallest power of two covering its length, so it is the
    complete aligned subtrees named by the binary digits of its length, largest first; the RFC folds them
    right to left. That is one lookup per set bit: O(log n).
    """
    n = end - start
    peaks: list[bytes] = []
    offset = start
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            peaks.append(source.node(level, offset >> level))
            offset += 1 << level
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


def root(source: NodeSource, size: int) -> bytes:
    """The root hash of the first ``size`` leaves held by ``source`` (RFC 9162 §2.1.1)."""
    _check_size(size, "tree size", "tree")
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(source, 0, size)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH by its plain recursive definition, over leaf hashes: the reference the tree is tested against.

    O(n) hashes and recursion depth O(log n); meant for tests and small trees, not for a log.
    """
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def new_nodes(source: NodeSource, size: int, leaf: bytes) -> list[tuple[int, int, bytes]]:
    """The complete nodes that appending ``leaf`` to a tree of ``size`` leaves creates.

    Returns ``(level, index, hash)`` rows: the leaf itself at level 0, then each parent it completes.
    Storage inserts exactly these rows in the same transaction as the entry, so every complete node is
    written once and proofs never have to rehash leaves. Reads only the left siblings, O(log n) lookups.
    """
    _check_size(size, "tree size", "tree")
    if size == MAX_TREE_SIZE:
        raise ProofError("tree is full", "tree")
    _check_hash(leaf, "leaf hash", "tree")
    rows = [(0, size, leaf)]
    acc = leaf
    level, index = 0, size
    while index & 1:
        acc = node_hash(source.node(level, index - 1), acc)
        level += 1
        index >>= 1
        rows.append((level, index, acc))
    return rows


def append_nodes(source: NodeSource, size: int, leaves: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
    """``new_nodes`` for a run of leaves appended at once: the same rows, level by level.

    Every new node at level l+1 has a new right child; only its left child may be older (at most one per
    level, the first), so a batch costs one hash per new node and O(log n) lookups in ``source``.
    """
    _check_size(size, "tree size", "tree")
    if len(leaves) > MAX_TREE_SIZE - size:
        raise ProofError("tree is full", "tree")
    for leaf in leaves:
        _check_hash(leaf, "leaf hash", "tree")
    end = size + len(leaves)
    level_nodes = dict(zip(range(size, end), leaves, strict=True))  # index -> hash, at the current level
    rows = [(0, index, digest) for index, digest in level_nodes.items()]
    level = 0
    while True:
        first = size >> (level + 1)  # parents newly complete at level+1: (j+1)·2^(l+1) > size ...
        last = end >> (level + 1)  # ... and ≤ end
        if first >= last:
            return rows
        parents: dict[int, bytes] = {}
        for parent in range(first, last):
            left, right = 2 * parent, 2 * parent + 1
            left_hash = level_nodes.get(left)
            if left_hash is None:
                left_hash = source.node(level, left)
            parents[parent] = node_hash(left_hash, level_nodes[right])
        level += 1
        rows.extend((level, index, digest) for index, digest in parents.items())
        level_nodes = parents


class MemoryTree:
    """A whole tree in memory, one list of hashes per level: tests, benchmarks and small tools.

    It keeps exactly the nodes storage keeps, and builds them with ``new_nodes``, so it is also the
    reference for what storage must insert.
    """

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the new complete nodes, as ``new_nodes`` computes them."""
        rows = new_nodes(self, self.size, leaf)
        for level, index, value in rows:
            if level == len(self._levels):
                self._levels.append([])
            # Each new node is the next one of its level, since a level only grows at its right end.
            assert index == len(self._levels[level])
            self._levels[level].append(value)
        return rows

    def node(self, level: int, index: int) -> bytes:
        """The complete subtree at ``(level, index)``; asking for one that does not exist is a bug."""
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise ProofError(f"no complete node ({level}, {index}) in a tree of {self.size} leaves", "tree")

    def root(self, size: int | None = None) -> bytes:
        """The root of the whole tree, or of its first ``size`` leaves."""
        if size is None:
            size = self.size
        _check_size(size, "tree size", "tree")
        if size > self.size:
            raise ProofError(f"tree size {size} is beyond this tree's {self.size} leaves", "tree")
        return root(self, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf-side first.

    Walks the RFC's recursion from the root down. Once the walk turns left into a complete subtree every
    later sibling is a complete node; only the first right sibling can be an incomplete range, so the whole
    proof costs O(log n) lookups.
    """
    _check_size(index, "leaf index", "inclusion")
    _check_size(size, "tree size", "inclusion")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}", "inclusion")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(_range_hash(source, start + k, end))
            end = start + k
        else:
            path.append(_range_hash(source, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1, smallest subtree first.

    Empty when ``first`` is 0 or equal to ``second``: there is nothing to prove. The walk is SUBPROOF's
    recursion unrolled; ``known`` is its ``b`` flag — true while the current subtree is the whole old tree,
    whose root the verifier already has.
    """
    _check_size(first, "first size", "consistency")
    _check_size(second, "second size", "consistency")
    if first > second:
        raise ProofError(f"first size {first} is larger than second size {second}", "consistency")
    if first == 0 or first == second:
        return []
    path: list[bytes] = []
    start, end = 0, second
    known = True
    while first != end:
        k = _split(end - start)
        if first <= start + k:
            path.append(_range_hash(source, start + k, end))
            end = start + k
        else:
            path.append(_range_hash(source, start, start + k))
            start += k
            known = False
    if not known:
        path.append(_range_hash(source, start, end))
    path.reverse()
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is leaf ``index`` of the tree of ``size`` leaves whose root is ``root``.

    RFC 9162 §2.1.3.2. The path's length is fixed by ``(index, size)``; the algorithm rejects one element
    too many (``sn`` reaches 0 early) or too few (``sn`` is not 0 at the end).
    """
    step = "inclusion"
    _check_size(index, "leaf index", step)
    _check_size(size, "tree size", step)
    _check_hash(leaf, "leaf hash", step)
    _check_hash(root, "root hash", step)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}", step)
    fn, sn = index, size - 1
    r = leaf
    for i, p in enumerate(path):
        _check_hash(p, f"path[{i}]", step)
        if sn == 0:
            raise ProofError(f"path is longer than a tree of {size} leaves allows", step)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"path is shorter than a tree of {size} leaves needs", step)
    if not hmac.compare_digest(r, root):
        raise ProofError(f"path does not lead from leaf {index} to the root of tree size {size}", step)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> None:
    """Check that the tree of ``second`` leaves extends the tree of ``first`` leaves.

    RFC 9162 §2.1.4.2 for ``0 < first < second``. The trivial cases take an empty path only: equal sizes
    need equal roots, and a tree of 0 leaves has exactly one root, ``EMPTY_ROOT`` — stricter than the RFC,
    which ignores the first root there, so a witness never stores a made-up root for an empty log.
    """
    step = "consistency"
    _check_size(first, "first size", step)
    _check_size(second, "second size", step)
    _check_hash(first_root, "first root", step)
    _check_hash(second_root, "second root", step)
    for i, p in enumerate(path):
        _check_hash(p, f"path[{i}]", step)
    if first > second:
        raise ProofError(f"first size {first} is larger than second size {second}", step)
    if first == 0 or first == second:
        if path:
            raise ProofError(f"path must be empty from size {first} to {second}", step)
        if first == 0 and not hmac.compare_digest(first_root, EMPTY_ROOT):
            raise ProofError("the root of an empty tree must be the empty-tree hash", step)
        if first == second and not hmac.compare_digest(first_root, second_root):
            raise ProofError(f"two different roots for tree size {first}", step)
        return
    if not path:
        raise ProofError(f"path from size {first} to {second} is empty", step)

    # A first tree that is a complete subtree is itself the path's starting node (RFC 9162 §2.1.4.2, 2).
    nodes = [first_root, *path] if first & (first - 1) == 0 else list(path)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise ProofError(f"path is longer than sizes {first} to {second} allow", step)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"path is shorter than sizes {first} to {second} need", step)
    if not hmac.compare_digest(fr, first_root):
        raise ProofError(f"path does not lead to the root of tree size {first}", step)
    if not hmac.compare_digest(sr, second_root):
        raise ProofError(f"path does not lead to the root of tree size {second}", step)
