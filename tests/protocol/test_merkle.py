"""The Merkle tree against RFC 9162's definitions, the Certificate Transparency vectors, and tampering.

Generation is checked against a plain transcription of the RFC's recursive definitions (``_ref_path``,
``_ref_proof``) over leaf lists; verification against proofs from both. The known-answer vectors are the
8-leaf tree shared by Certificate Transparency implementations (transparency-dev/merkle, testonly/constants.go
and proof/verify_test.go; the same values as google/certificate-transparency's merkle_tree_test).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProofError, VerificationError
from protocol.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryTree,
    append_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_nodes,
    node_hash,
    root,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

# --- the RFC 6962 / 9162 known-answer vectors ------------------------------------------------------------


def _hashes(text: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in text.split()]


VECTOR_INPUTS = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]]
VECTOR_INPUTS.append(bytes.fromhex("606162636465666768696a6b6c6d6e6f"))
VECTOR_ROOTS = _hashes("""
    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
    fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125
    aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77
    d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
    4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4
    76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef
    ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c
    5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
""")
# Every complete node of the 8-leaf tree, one level per string.
VECTOR_NODES = [
    _hashes("""
        6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
        96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
        0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7
        07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7
        bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
        4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658
        b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f
        46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1
    """),
    _hashes("""
        fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125
        5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
        0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
        ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
    """),
    _hashes("""
        d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
        6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4
    """),
    _hashes("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (leaf index, tree size, path); transparency-dev numbers leaves from 1, these from 0.
VECTOR_INCLUSION = [
    (0, 1, ""),
    (
        0,
        8,
        """
        96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
        5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
        6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4
    """,
    ),
    (
        5,
        8,
        """
        bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
        ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
        d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
    """,
    ),
    (2, 3, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    (
        1,
        5,
        """
        6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
        5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
        bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
    """,
    ),
]
# (first, second, path)
VECTOR_CONSISTENCY = [
    (1, 1, ""),
    (
        1,
        8,
        """
        96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
        5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
        6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4
    """,
    ),
    (
        6,
        8,
        """
        0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
        ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
        d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
    """,
    ),
    (
        2,
        5,
        """
        5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
        bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
    """,
    ),
    (
        6,
        7,
        """
        0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
        b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f
        d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
    """,
    ),
]
VECTOR_LEAVES = [leaf_hash(d) for d in VECTOR_INPUTS]
VECTOR_TREE = MemoryTree(VECTOR_LEAVES)

# --- the trees most tests share ----------------------------------------------------------------------------

MAX = 300
EXHAUSTIVE = 64
LEAVES = [leaf_hash(b"leaf %d" % i) for i in range(MAX)]
OTHER_LEAVES = [leaf_hash(b"other %d" % i) for i in range(MAX)]
TREE = MemoryTree(LEAVES)
OTHER = MemoryTree(OTHER_LEAVES)
ROOTS = [TREE.root(n) for n in range(MAX + 1)]
SOME_HASH = hashlib.sha256(b"some hash").digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, transcribed."""
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_ref_path(m, leaves[:k]), root_from_leaves(leaves[k:])]
    return [*_ref_path(m - k, leaves[k:]), root_from_leaves(leaves[:k])]


def _ref_subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1, transcribed."""
    n = len(leaves)
    if m == n:
        return [] if b else [root_from_leaves(leaves)]
    k = _split(n)
    if m <= k:
        return [*_ref_subproof(m, leaves[:k], b), root_from_leaves(leaves[k:])]
    return [*_ref_subproof(m - k, leaves[k:], False), root_from_leaves(leaves[:k])]


def _ref_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [] if m in (0, len(leaves)) else _ref_subproof(m, leaves, True)


class CheckedSource:
    """A NodeSource over a tree of ``size`` leaves that fails on any node storage could not hold."""

    def __init__(self, tree: MemoryTree, size: int) -> None:
        self.tree, self.size, self.lookups = tree, size, 0

    def node(self, level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= self.size, f"asked for ({level}, {index}) beyond size {self.size}"
        self.lookups += 1
        return self.tree.node(level, index)


class SyntheticSource:
    """Made-up hashes for every node of a huge tree: counts the lookups proofs need, nothing more."""

    def __init__(self, size: int) -> None:
        self.size, self.lookups = size, 0

    def node(self, level: int, index: int) -> bytes:
        assert (index + 1) << level <= self.size
        self.lookups += 1
        return hashlib.sha256(b"%d/%d" % (level, index)).digest()


def _flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def _tampered_paths(path: list[bytes], extra: bytes) -> list[list[bytes]]:
    """Every path an attacker could make from a good one by one edit."""
    out: list[list[bytes]] = []
    for i in range(len(path)):
        out.append([*path[:i], _flip(path[i]), *path[i + 1 :]])
        out.append([*path[:i], *path[i + 1 :]])
        out.append([*path[:i], extra, *path[i:]])
    out += [[*path, extra], [extra, *path], [*path, SOME_HASH], [SOME_HASH, *path]]
    if len(path) > 1:
        out.append(list(reversed(path)))
    return [p for p in out if p != path]


def _rejects(step: str, check: str, call: Callable[..., object], *args: object) -> None:
    """``call(*args)`` raises a ``ProofError`` from the check named by ``step`` and the ``check`` pattern."""
    with pytest.raises(ProofError) as caught:
        call(*args)
    assert caught.value.step == step, caught.value
    assert re.match(check, caught.value.message), caught.value


# What each check says: a test names the one it expects, so a refusal by another check fails it.
NAME = r"(leaf index|tree size|first size|second size|leaf hash|root hash|first root|second root|path\[\d+\])"
NOT_AN_INT = NAME + " must be an int"
OUT_OF_RANGE = NAME + r" -?\d+ is outside 0\.\.2\^63-1"
NOT_A_HASH = NAME + " must be 32 bytes"
INDEX_PAST_SIZE = r"leaf index \d+ is not below tree size"
ROLLBACK = r"first size \d+ is larger than second size"
# A well-formed path that fails: too long, too short, or not leading to the root.
PATH_FAILS = r"path is (longer|shorter) than|path does not lead"


# --- hashing and the known-answer vectors ----------------------------------------------------------------


def test_hashes_use_rfc_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT == VECTOR_ROOTS[0]
    assert len(EMPTY_ROOT) == HASH_SIZE == 32


def test_vector_roots_for_every_prefix() -> None:
    tree = MemoryTree()
    assert tree.root() == VECTOR_ROOTS[0]
    for n, leaf in enumerate(VECTOR_LEAVES, start=1):
        tree.append(leaf)
        assert tree.root() == VECTOR_ROOTS[n]
        assert root_from_leaves(VECTOR_LEAVES[:n]) == VECTOR_ROOTS[n]
        assert all(VECTOR_TREE.root(s) == VECTOR_ROOTS[s] for s in range(n + 1))


def test_vector_complete_nodes() -> None:
    for level, hashes in enumerate(VECTOR_NODES):
        for index, expected in enumerate(hashes):
            assert VECTOR_TREE.node(level, index) == expected


@pytest.mark.parametrize(("index", "size", "path"), VECTOR_INCLUSION)
def test_vector_inclusion(index: int, size: int, path: str) -> None:
    expected = _hashes(path)
    assert inclusion_proof(VECTOR_TREE, index, size) == expected
    verify_inclusion(VECTOR_LEAVES[index], index, size, expected, VECTOR_ROOTS[size])


@pytest.mark.parametrize(("first", "second", "path"), VECTOR_CONSISTENCY)
def test_vector_consistency(first: int, second: int, path: str) -> None:
    expected = _hashes(path)
    assert consistency_proof(VECTOR_TREE, first, second) == expected
    verify_consistency(first, second, VECTOR_ROOTS[first], VECTOR_ROOTS[second], expected)


# --- the tree: roots, appends, what storage is asked for ---------------------------------------------------


def test_root_equals_mth_for_every_size_up_to_300() -> None:
    grown = MemoryTree()
    for n in range(MAX + 1):
        expected = root_from_leaves(LEAVES[:n])
        assert grown.root() == expected
        assert ROOTS[n] == expected
        source = CheckedSource(TREE, n)
        assert root(source, n) == expected
        assert source.lookups == bin(n).count("1")
        if n < MAX:
            grown.append(LEAVES[n])


def test_append_returns_exactly_the_nodes_it_completes() -> None:
    tree = MemoryTree()
    for size, leaf in enumerate(LEAVES[:130]):
        rows = tree.append(leaf)
        expected = []
        level = 0
        while (size + 1) % (1 << level) == 0:
            index = (size + 1 >> level) - 1
            covered = LEAVES[index << level : (index + 1) << level]
            expected.append((level, index, root_from_leaves(covered)))
            level += 1
        assert rows == expected


def test_storage_fed_only_by_new_nodes_serves_the_same_tree() -> None:
    """What storage will do: insert the rows new_nodes returns, and answer everything from them."""

    class Rows:
        def __init__(self) -> None:
            self.rows: dict[tuple[int, int], bytes] = {}

        def node(self, level: int, index: int) -> bytes:
            return self.rows[(level, index)]

    stored = Rows()
    for size, leaf in enumerate(LEAVES[:100]):
        for level, index, value in new_nodes(stored, size, leaf):
            assert (level, index) not in stored.rows, "a node is written once, never updated"
            stored.rows[(level, index)] = value
    assert len(stored.rows) == sum(100 >> level for level in range(7))
    assert root(stored, 100) == ROOTS[100]
    assert inclusion_proof(stored, 37, 99) == inclusion_proof(TREE, 37, 99)
    assert consistency_proof(stored, 13, 100) == consistency_proof(TREE, 13, 100)


@pytest.mark.parametrize("size", [2**40, 2**40 + 1, 10**12 + 12345, 2**62 + 2**31 + 7, 2**63 - 1])
def test_proofs_need_logarithmic_lookups(size: int) -> None:
    bits = size.bit_length()
    for index in (0, 1, size // 3, size - 2, size - 1):
        source = SyntheticSource(size)
        assert len(inclusion_proof(source, index, size)) <= bits
        assert source.lookups <= 2 * bits
    for first in (1, 2, 7, size // 2, size // 3 + 1, size - 1):
        source = SyntheticSource(size)
        assert len(consistency_proof(source, first, size)) <= 2 * bits
        assert source.lookups <= 3 * bits
    source = SyntheticSource(size)
    new_nodes(source, size - 1, SOME_HASH)
    assert source.lookups <= bits


def test_memory_tree_refuses_nodes_it_does_not_have() -> None:
    tree = MemoryTree(LEAVES[:5])
    _rejects("tree", "no complete node", tree.node, 0, 5)
    _rejects("tree", "no complete node", tree.node, 1, 2)  # leaves 4 and 5: only half there
    _rejects("tree", "no complete node", tree.node, 3, 0)
    _rejects("tree", "no complete node", tree.node, -1, 0)
    _rejects("tree", r"tree size \d+ is beyond this tree", tree.root, 6)
    _rejects("tree", NOT_A_HASH, tree.append, b"short")
    _rejects("tree", NOT_A_HASH, tree.append, LEAVES[0] + b"\x00")


# --- inclusion --------------------------------------------------------------------------------


def _check_inclusion(index: int, size: int) -> None:
    source = CheckedSource(TREE, size)
    path = inclusion_proof(source, index, size)
    assert path == _ref_path(index, LEAVES[:size])
    assert source.lookups <= 2 * size.bit_length()
    verify_inclusion(LEAVES[index], index, size, path, ROOTS[size])


def _check_inclusion_tampering(index: int, size: int) -> None:
    path = inclusion_proof(TREE, index, size)
    good_root = ROOTS[size]
    leaf = LEAVES[index]
    fails = partial(_rejects, "inclusion", PATH_FAILS, verify_inclusion)
    for bad in _tampered_paths(path, LEAVES[index]):
        fails(leaf, index, size, bad, good_root)
    for wrong_index in {index - 1, index + 1, index ^ 2, index ^ 1} - {index}:
        if 0 <= wrong_index < size:
            fails(leaf, wrong_index, size, path, good_root)
            fails(LEAVES[wrong_index], wrong_index, size, path, good_root)
        else:
            check = OUT_OF_RANGE if wrong_index < 0 else INDEX_PAST_SIZE
            _rejects("inclusion", check, verify_inclusion, leaf, wrong_index, size, path, good_root)
    for wrong_size in {size - 1, size + 1, size * 2, size // 2, size + 7} - {size}:
        if 0 < wrong_size <= MAX:
            check = INDEX_PAST_SIZE if index >= wrong_size else PATH_FAILS
            _rejects("inclusion", check, verify_inclusion, leaf, index, wrong_size, path, ROOTS[wrong_size])
    # The RFC binds the size only through the path's shape; doubling or halving always changes it.
    for s in {size * 2, size // 2} - {size}:
        check = INDEX_PAST_SIZE if index >= s else PATH_FAILS
        _rejects("inclusion", check, verify_inclusion, leaf, index, s, path, good_root)
    fails(leaf, index, size, path, OTHER.root(size))
    if size > 1:  # a one-leaf tree's proof is empty, whichever tree it comes from
        other_path = inclusion_proof(OTHER, index, size)
        fails(leaf, index, size, other_path, good_root)
    fails(OTHER_LEAVES[index], index, size, path, good_root)
    fails(leaf, index, size, path, EMPTY_ROOT)
    fails(leaf, index, size, path, SOME_HASH)


def test_inclusion_every_index_of_every_small_tree() -> None:
    for size in range(1, EXHAUSTIVE + 1):
        for index in range(size):
            _check_inclusion(index, size)


def test_inclusion_tampering_every_index_of_small_trees() -> None:
    for size in range(1, 33):
        for index in range(size):
            _check_inclusion_tampering(index, size)


_index_and_size = st.integers(1, MAX).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n)))


@settings(max_examples=300, deadline=None)
@given(_index_and_size)
def test_inclusion_random(case: tuple[int, int]) -> None:
    _check_inclusion(*case)


@settings(max_examples=100, deadline=None)
@given(_index_and_size)
def test_inclusion_tampering_random(case: tuple[int, int]) -> None:
    _check_inclusion_tampering(*case)


def test_inclusion_bad_arguments() -> None:
    leaf, good = LEAVES[0], ROOTS[1]
    for index, size, check in [
        (0, 0, INDEX_PAST_SIZE),
        (1, 1, INDEX_PAST_SIZE),
        (5, 3, INDEX_PAST_SIZE),
        (-1, 3, OUT_OF_RANGE),
        (0, -1, OUT_OF_RANGE),
        (0, 2**63, OUT_OF_RANGE),
    ]:
        _rejects("inclusion", check, inclusion_proof, TREE, index, size)
        _rejects("inclusion", check, verify_inclusion, leaf, index, size, [], good)
    _rejects("inclusion", NOT_AN_INT, inclusion_proof, TREE, True, 2)  # a bool is not an index
    _rejects("inclusion", NOT_AN_INT, verify_inclusion, leaf, 0, True, [], good)
    _rejects("inclusion", "leaf hash must be 32 bytes", verify_inclusion, leaf[:31], 0, 1, [], leaf[:31])
    _rejects("inclusion", "root hash must be 32 bytes", verify_inclusion, leaf, 0, 1, [], good + b"\x00")
    _rejects("inclusion", NOT_A_HASH, verify_inclusion, b"", 0, 1, [], b"")
    path = inclusion_proof(TREE, 3, 10)
    short, long = [*path[:-1], path[-1][:16]], [*path[:-1], path[-1] + b"\x00"]
    _rejects("inclusion", r"path\[3\] must be 32 bytes", verify_inclusion, LEAVES[3], 3, 10, short, ROOTS[10])
    _rejects("inclusion", r"path\[3\] must be 32 bytes", verify_inclusion, LEAVES[3], 3, 10, long, ROOTS[10])


def test_single_leaf_tree() -> None:
    verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    _rejects("inclusion", "path does not lead", verify_inclusion, LEAVES[0], 0, 1, [], LEAVES[1])
    _rejects("inclusion", "path is longer", verify_inclusion, LEAVES[0], 0, 1, [LEAVES[1]], ROOTS[2])


def test_proof_error_is_a_verification_error_with_a_step() -> None:
    with pytest.raises(VerificationError) as caught:
        verify_inclusion(LEAVES[0], 0, 2, [], ROOTS[2])
    assert isinstance(caught.value, ProofError)
    assert caught.value.step == "inclusion"


# --- consistency --------------------------------------------------------------------------------


def _check_consistency(first: int, second: int) -> None:
    source = CheckedSource(TREE, second)
    path = consistency_proof(source, first, second)
    assert path == _ref_proof(first, LEAVES[:second])
    assert source.lookups <= 3 * second.bit_length()
    verify_consistency(first, second, ROOTS[first], ROOTS[second], path)


def _consistency_check(first: int, second: int, path: Sequence[bytes]) -> str:
    """Which check must refuse a consistency proof of this shape that does not verify."""
    if first < 0:
        return OUT_OF_RANGE
    if first > second:
        return ROLLBACK
    if first in (0, second):
        return "path must be empty" if path else "the root of an empty tree|two different roots"
    return PATH_FAILS if path else r"path from size \d+ to \d+ is empty"


def _check_consistency_tampering(first: int, second: int) -> None:
    path = consistency_proof(TREE, first, second)
    r1, r2 = ROOTS[first], ROOTS[second]

    def fails(f: int, s: int, root1: bytes, root2: bytes, bad: Sequence[bytes]) -> None:
        _rejects("consistency", _consistency_check(f, s, bad), verify_consistency, f, s, root1, root2, bad)

    if first in (0, second):
        fails(first, second, r1, r2, [SOME_HASH])
        wrong_root = "the root of an empty tree" if first == 0 else "two different roots"
        _rejects("consistency", wrong_root, verify_consistency, first, second, SOME_HASH, r2, path)
        if first != second:
            _rejects("consistency", ROLLBACK, verify_consistency, second, first, r2, r1, path)
        return
    for bad in [[], *_tampered_paths(path, r1), [*path, r2], [r2, *path], [path[0], *path]]:
        if bad != path:
            fails(first, second, r1, r2, bad)
    near = {
        (first - 1, second),
        (first + 1, second),
        (first ^ 2, second),
        (first, second * 2),
        (first, second // 2),
        (first, second + 1),
        (first, second - 1),
    } - {(first, second)}
    for f, s in near:
        if 0 <= f <= s <= MAX:
            fails(f, s, ROOTS[f], ROOTS[s], path)
    # With the original roots: the RFC binds sizes only through the path's shape, so (as in
    # transparency-dev's probes) only the changes that always alter the shape must fail.
    for f, s in {
        (first - 1, second),
        (first + 1, second),
        (first ^ 2, second),
        (first, second * 2),
        (first, second // 2),
    } - {(first, second)}:
        fails(f, s, r1, r2, path)
    fails(first, second, r2, r1, path)
    fails(first, second, OTHER.root(first), r2, path)
    fails(first, second, r1, OTHER.root(second), path)
    fails(first, second, r1, r2, consistency_proof(OTHER, first, second))
    _rejects("consistency", ROLLBACK, verify_consistency, second, first, r2, r1, path)


def test_consistency_every_pair_of_small_trees() -> None:
    for second in range(EXHAUSTIVE + 1):
        for first in range(second + 1):
            _check_consistency(first, second)


def test_consistency_tampering_every_pair_of_small_trees() -> None:
    for second in range(33):
        for first in range(second + 1):
            _check_consistency_tampering(first, second)


_first_and_second = st.integers(0, MAX).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=300, deadline=None)
@given(_first_and_second)
def test_consistency_random(case: tuple[int, int]) -> None:
    _check_consistency(*case)


@settings(max_examples=100, deadline=None)
@given(_first_and_second)
def test_consistency_tampering_random(case: tuple[int, int]) -> None:
    _check_consistency_tampering(*case)


def test_consistency_trivial_cases() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert consistency_proof(TREE, 0, 5) == consistency_proof(TREE, 5, 5) == []
    fails = partial(_rejects, "consistency")
    fails("two different roots for tree size 0", verify_consistency, 0, 0, EMPTY_ROOT, SOME_HASH, [])
    fails("the root of an empty tree", verify_consistency, 0, 0, SOME_HASH, SOME_HASH, [])  # it has one root
    fails("the root of an empty tree", verify_consistency, 0, 5, SOME_HASH, ROOTS[5], [])
    fails("path must be empty from size 0 to 5", verify_consistency, 0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])
    fails("two different roots for tree size 5", verify_consistency, 5, 5, ROOTS[5], ROOTS[6], [])
    fails("path must be empty from size 5 to 5", verify_consistency, 5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    fails("path from size 1 to 2 is empty", verify_consistency, 1, 2, ROOTS[1], ROOTS[2], [])


def test_consistency_bad_arguments() -> None:
    fails = partial(_rejects, "consistency")
    for first, second, check in [
        (6, 3, ROLLBACK),
        (1, 0, ROLLBACK),
        (-1, 3, OUT_OF_RANGE),
        (0, -1, OUT_OF_RANGE),
        (0, 2**63, OUT_OF_RANGE),
    ]:
        fails(check, consistency_proof, TREE, first, second)
    fails(NOT_AN_INT, consistency_proof, TREE, 1, True)
    fails(NOT_AN_INT, verify_consistency, 1, True, ROOTS[1], ROOTS[1], [])
    path = consistency_proof(TREE, 3, 7)
    fails("first root must be 32 bytes", verify_consistency, 3, 7, ROOTS[3][:31], ROOTS[7], path)
    fails("second root must be 32 bytes", verify_consistency, 3, 7, ROOTS[3], ROOTS[7] + b"\x00", path)
    assert len(path) == 4
    short, extra = [*path[:-1], path[-1][:31]], [*path, b""]
    fails(r"path\[3\] must be 32 bytes", verify_consistency, 3, 7, ROOTS[3], ROOTS[7], short)
    fails(r"path\[4\] must be 32 bytes", verify_consistency, 3, 7, ROOTS[3], ROOTS[7], extra)


@pytest.mark.parametrize(
    ("first", "second"), [(3, 2), (2, 1), (8, 4), (7, 6)], ids=["3-to-2", "2-to-1", "8-to-4", "7-to-6"]
)
def test_consistency_refuses_a_rollback_by_its_own_check(first: int, second: int) -> None:
    """A proof from a larger tree back to a smaller one (a rollback) is refused as such, whatever the path:
    the forward proof, an empty one, or one the algorithm would otherwise walk."""
    for path in (consistency_proof(TREE, second, first), [], [ROOTS[second]], [ROOTS[first]]):
        _rejects(
            "consistency", ROLLBACK, verify_consistency, first, second, ROOTS[first], ROOTS[second], path
        )


@given(st.integers(0, 300), st.integers(1, 70))
@settings(max_examples=150, deadline=None)
def test_append_nodes_equals_appending_one_leaf_at_a_time(size: int, count: int) -> None:
    tree = MemoryTree([leaf_hash(b"%d" % i) for i in range(size)])
    leaves = [leaf_hash(b"new %d" % i) for i in range(count)]
    batch = append_nodes(tree, size, leaves)
    one_by_one = [row for leaf in leaves for row in tree.append(leaf)]
    assert sorted(batch) == sorted(one_by_one)


# --- the tree functions' own refusals, word for word ------------------------------------------------------


class _Zeros:
    """A source of any size whose every node is zero bytes: enough to exercise the arithmetic at 2^63."""

    def node(self, level: int, index: int) -> bytes:
        return bytes(32)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: root(TREE, -1), "tree: tree size -1 is outside 0..2^63-1", id="root-negative"),
        pytest.param(lambda: root(TREE, True), "tree: tree size must be an int, got bool", id="root-bool"),
        pytest.param(
            lambda: new_nodes(TREE, -1, LEAVES[0]),
            "tree: tree size -1 is outside 0..2^63-1",
            id="new-negative",
        ),
        pytest.param(lambda: new_nodes(_Zeros(), 2**63 - 1, LEAVES[0]), "tree: tree is full", id="new-full"),
        pytest.param(
            lambda: new_nodes(TREE, 3, "x" * 32),
            "tree: leaf hash must be 32 bytes, got str",
            id="new-text-leaf",
        ),
        pytest.param(
            lambda: new_nodes(TREE, 3, bytearray(31)),
            "tree: leaf hash must be 32 bytes, got 31",
            id="new-short",
        ),
        pytest.param(
            lambda: append_nodes(TREE, -1, []),
            "tree: tree size -1 is outside 0..2^63-1",
            id="append-negative",
        ),
        pytest.param(
            lambda: append_nodes(_Zeros(), 2**63 - 1, [LEAVES[0]]), "tree: tree is full", id="append-full"
        ),
        pytest.param(
            lambda: append_nodes(_Zeros(), 2**63 - 2, LEAVES[:2]),
            "tree: tree is full",
            id="append-one-too-many",
        ),
        pytest.param(
            lambda: append_nodes(TREE, 3, [LEAVES[0], b"short"]),
            "tree: leaf hash must be 32 bytes, got 5",
            id="append-short-leaf",
        ),
        pytest.param(
            lambda: inclusion_proof(TREE, True, 3),
            "inclusion: leaf index must be an int, got bool",
            id="index-bool",
        ),
        pytest.param(
            lambda: verify_inclusion(LEAVES[0], 0, 1, [], "x"),
            "inclusion: root hash must be 32 bytes, got str",
            id="root-text",
        ),
        pytest.param(
            lambda: verify_consistency(2, 1, ROOTS[2], ROOTS[1], []),
            "consistency: first size 2 is larger than second size 1",
            id="rollback",
        ),
    ],
)
def test_refusal_messages_word_for_word(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ProofError) as caught:
        call()
    assert str(caught.value) == message


def test_a_tree_of_the_largest_size_still_takes_its_last_leaf() -> None:
    """Appending the leaf that makes 2^63-1 is allowed; only the one after it is refused."""
    assert new_nodes(_Zeros(), 2**63 - 2, LEAVES[0])[0] == (0, 2**63 - 2, LEAVES[0])
    rows = append_nodes(_Zeros(), 2**63 - 2, [LEAVES[0]])
    assert rows[0] == (0, 2**63 - 2, LEAVES[0])
    assert append_nodes(_Zeros(), 2**63 - 1, []) == []


P3_10 = inclusion_proof(TREE, 3, 10)
C3_7 = consistency_proof(TREE, 3, 7)
C4_7 = consistency_proof(TREE, 4, 7)
WORDS: list[tuple[str, Callable[[], object], str]] = [
    (
        "memory-node",
        lambda: MemoryTree(LEAVES[:5]).node(0, 5),
        "tree: no complete node (0, 5) in a tree of 5 leaves",
    ),
    (
        "memory-root",
        lambda: MemoryTree(LEAVES[:5]).root(6),
        "tree: tree size 6 is beyond this tree's 5 leaves",
    ),
    ("memory-root-size", lambda: MemoryTree(LEAVES[:5]).root(-2), "tree: tree size -2 is outside 0..2^63-1"),
    ("proof-index", lambda: inclusion_proof(TREE, -1, 3), "inclusion: leaf index -1 is outside 0..2^63-1"),
    (
        "proof-size",
        lambda: inclusion_proof(TREE, 0, 2**63),
        f"inclusion: tree size {2**63} is outside 0..2^63-1",
    ),
    ("proof-past", lambda: inclusion_proof(TREE, 3, 3), "inclusion: leaf index 3 is not below tree size 3"),
    (
        "cproof-first",
        lambda: consistency_proof(TREE, -1, 3),
        "consistency: first size -1 is outside 0..2^63-1",
    ),
    (
        "cproof-second",
        lambda: consistency_proof(TREE, 0, -3),
        "consistency: second size -3 is outside 0..2^63-1",
    ),
    (
        "cproof-rollback",
        lambda: consistency_proof(TREE, 4, 3),
        "consistency: first size 4 is larger than second size 3",
    ),
    (
        "incl-index",
        lambda: verify_inclusion(LEAVES[0], -1, 1, [], ROOTS[1]),
        "inclusion: leaf index -1 is outside 0..2^63-1",
    ),
    (
        "incl-size",
        lambda: verify_inclusion(LEAVES[0], 0, -1, [], ROOTS[1]),
        "inclusion: tree size -1 is outside 0..2^63-1",
    ),
    (
        "incl-leaf",
        lambda: verify_inclusion(b"", 0, 1, [], ROOTS[1]),
        "inclusion: leaf hash must be 32 bytes, got 0",
    ),
    (
        "incl-root",
        lambda: verify_inclusion(LEAVES[0], 0, 1, [], b"r"),
        "inclusion: root hash must be 32 bytes, got 1",
    ),
    (
        "incl-past",
        lambda: verify_inclusion(LEAVES[0], 1, 1, [], ROOTS[1]),
        "inclusion: leaf index 1 is not below tree size 1",
    ),
    (
        "incl-path",
        lambda: verify_inclusion(LEAVES[3], 3, 10, [*P3_10[:2], b"x"], ROOTS[10]),
        "inclusion: path[2] must be 32 bytes, got 1",
    ),
    (
        "incl-longer",
        lambda: verify_inclusion(LEAVES[3], 3, 10, [*P3_10, SOME_HASH], ROOTS[10]),
        "inclusion: path is longer than a tree of 10 leaves allows",
    ),
    (
        "incl-shorter",
        lambda: verify_inclusion(LEAVES[3], 3, 10, P3_10[:-1], ROOTS[10]),
        "inclusion: path is shorter than a tree of 10 leaves needs",
    ),
    (
        "incl-wrong-root",
        lambda: verify_inclusion(LEAVES[3], 3, 10, P3_10, ROOTS[9]),
        "inclusion: path does not lead from leaf 3 to the root of tree size 10",
    ),
    (
        "cons-first",
        lambda: verify_consistency(-1, 7, ROOTS[3], ROOTS[7], C3_7),
        "consistency: first size -1 is outside 0..2^63-1",
    ),
    (
        "cons-second",
        lambda: verify_consistency(3, 2**64, ROOTS[3], ROOTS[7], C3_7),
        f"consistency: second size {2**64} is outside 0..2^63-1",
    ),
    (
        "cons-first-root",
        lambda: verify_consistency(3, 7, b"", ROOTS[7], C3_7),
        "consistency: first root must be 32 bytes, got 0",
    ),
    (
        "cons-second-root",
        lambda: verify_consistency(3, 7, ROOTS[3], "r", C3_7),
        "consistency: second root must be 32 bytes, got str",
    ),
    (
        "cons-path",
        lambda: verify_consistency(3, 7, ROOTS[3], ROOTS[7], [C3_7[0], None]),
        "consistency: path[1] must be 32 bytes, got NoneType",
    ),
    (
        "cons-rollback",
        lambda: verify_consistency(7, 3, ROOTS[7], ROOTS[3], C3_7),
        "consistency: first size 7 is larger than second size 3",
    ),
    (
        "cons-not-empty",
        lambda: verify_consistency(0, 7, EMPTY_ROOT, ROOTS[7], [SOME_HASH]),
        "consistency: path must be empty from size 0 to 7",
    ),
    (
        "cons-empty-root",
        lambda: verify_consistency(0, 7, SOME_HASH, ROOTS[7], []),
        "consistency: the root of an empty tree must be the empty-tree hash",
    ),
    (
        "cons-two-roots",
        lambda: verify_consistency(7, 7, ROOTS[7], ROOTS[6], []),
        "consistency: two different roots for tree size 7",
    ),
    (
        "cons-empty-path",
        lambda: verify_consistency(3, 7, ROOTS[3], ROOTS[7], []),
        "consistency: path from size 3 to 7 is empty",
    ),
    (
        "cons-longer",
        lambda: verify_consistency(3, 7, ROOTS[3], ROOTS[7], [*C3_7, SOME_HASH]),
        "consistency: path is longer than sizes 3 to 7 allow",
    ),
    (
        "cons-shorter",
        lambda: verify_consistency(3, 7, ROOTS[3], ROOTS[7], C3_7[:-1]),
        "consistency: path is shorter than sizes 3 to 7 need",
    ),
    (
        "cons-first-wrong",
        lambda: verify_consistency(3, 7, OTHER.root(3), ROOTS[7], C3_7),
        "consistency: path does not lead to the root of tree size 3",
    ),
    (
        "cons-second-wrong",
        lambda: verify_consistency(3, 7, ROOTS[3], OTHER.root(7), C3_7),
        "consistency: path does not lead to the root of tree size 7",
    ),
    (
        "cons-second-wrong-from-4",
        lambda: verify_consistency(4, 7, ROOTS[4], OTHER.root(7), C4_7),
        "consistency: path does not lead to the root of tree size 7",
    ),
]


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in WORDS], ids=[i for i, _, _ in WORDS])
def test_every_proof_refusal_word_for_word(call: Callable[[], object], message: str) -> None:
    """Each check's own message, in full: what operators read, and what tells one check from another."""
    with pytest.raises(ProofError) as caught:
        call()
    assert str(caught.value) == message
