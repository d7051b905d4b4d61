"""sqlglot's parser, kept to statements it reads in reasonable time.

sqlglot reads ``a JOIN b JOIN c ON ... ON ...`` (joins nested without parentheses) by trying
each JOIN both ways, so a run of JOINs without ON or USING takes time that doubles with each
one: 16 take about a second, 25 a quarter of an hour (sqlglot 30; tobymao/sqlglot#5514). A
small model writes such runs when it loops, and anyone can send one to ``check``. The run is
counted on the tokens, in linear time, and a statement with a longer one is refused before
parsing.
"""

from __future__ import annotations

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import ParseError
from sqlglot.tokenizer_core import Token

#: The longest run of JOINs without ON or USING that is parsed (about 30 ms of sqlglot's time).
MAX_OPEN_JOINS = 10


def open_joins(tokens: list[Token]) -> int:
    """The longest run of JOINs (CROSS JOIN aside) with no ON or USING between them."""
    longest = run = 0
    previous = None
    for token in tokens:
        if token.token_type in (TokenType.ON, TokenType.USING):
            run = 0
        elif token.token_type == TokenType.JOIN and previous != TokenType.CROSS:
            run += 1
            longest = max(longest, run)
        previous = token.token_type
    return longest


def parse(sql: str, dialect: str | None = None) -> list[exp.Expr | None]:
    """``sqlglot.parse``, tokenizing once, or a ``ParseError`` that says why a statement is not
    read at all."""
    reader = sqlglot.Dialect.get_or_raise(dialect)
    tokens = reader.tokenize(sql)
    joins = open_joins(tokens)
    if joins > MAX_OPEN_JOINS:
        raise ParseError(
            f"it has {joins} JOINs in a row without ON or USING, and honestsql reads at most "
            f"{MAX_OPEN_JOINS}; give each JOIN its ON condition, or write CROSS JOIN"
        )
    return reader.parser().parse(tokens, sql)
