"""Typed access to lark's parse tree: children are subtrees or tokens, and the grammar says
which; these helpers say it to the type checker, and fail loudly if the grammar changed."""

from __future__ import annotations

from lark import Token, Tree

ParseTree = Tree[Token]


def subtree(child: ParseTree | Token) -> ParseTree:
    """A child the grammar makes a subtree (a bug in the grammar if not)."""
    if not isinstance(child, Tree):
        raise TypeError(f"expected a subtree, got {child!r}")
    return child


def token(child: ParseTree | Token) -> Token:
    """A child the grammar makes a token (a bug in the grammar if not)."""
    if not isinstance(child, Token):
        raise TypeError(f"expected a token, got {child!r}")
    return child


def tokens(tree: ParseTree) -> list[Token]:
    """The children of a tree made only of tokens (dotted names)."""
    return [token(child) for child in tree.children]
