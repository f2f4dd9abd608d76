"""The Merkle tree hash of RFC 6962 (section 2.1): a leaf is SHA-256(0x00 || leaf bytes), an inner node
SHA-256(0x01 || left || right), and a tree of n leaves splits at the largest power of two smaller
than n. `Frontier` computes it as leaves stream in, keeping only the roots of the perfect subtrees
the tree so far decomposes into (one per bit set in its size), so a tree of millions of leaves needs
a few dozen hashes of memory; its root equals the RFC's recursive definition (`root_of`)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """A Merkle tree that grows by appending leaf hashes: its size and the roots of its perfect
    subtrees, largest (leftmost) first."""

    def __init__(self, size: int = 0, subtrees: Iterable[bytes] = ()):
        self.size = size
        self.subtrees = list(subtrees)
        if len(self.subtrees) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} perfect subtrees, "
                             f"not {len(self.subtrees)}")

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (leaf_hash of the leaf's bytes) at the right edge."""
        self.subtrees.append(leaf)
        self.size += 1
        n = self.size
        while n & 1 == 0:  # two subtrees of equal size at the right edge merge into one
            right = self.subtrees.pop()
            self.subtrees[-1] = node_hash(self.subtrees[-1], right)
            n >>= 1

    def root(self) -> bytes:
        """The RFC 6962 tree hash: the subtrees folded from the right."""
        if not self.subtrees:
            return EMPTY_ROOT
        acc = self.subtrees[-1]
        for h in reversed(self.subtrees[:-1]):
            acc = node_hash(h, acc)
        return acc

    def copy(self) -> Frontier:
        return Frontier(self.size, self.subtrees)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 definition itself, recursive over leaf hashes: the reference `Frontier` matches."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))
